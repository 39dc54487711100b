from lucid.rdp_gate.daemon import build
from lucid.runtime.daemon import main

main("rdp_gate", build)
