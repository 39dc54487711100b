from lucid.gatekeeper.daemon import build
from lucid.runtime.daemon import main

main("gatekeeper", build)
