from lucid.chunker.daemon import build
from lucid.runtime.daemon import main

main("chunker", build)
