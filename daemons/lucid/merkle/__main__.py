from lucid.merkle.daemon import build
from lucid.runtime.daemon import main

main("merkle", build)
