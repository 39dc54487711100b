from lucid.encryptor.daemon import build
from lucid.runtime.daemon import main

main("encryptor", build)
