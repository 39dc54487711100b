from lucid.recorder.daemon import build
from lucid.runtime.daemon import main

main("recorder", build)
