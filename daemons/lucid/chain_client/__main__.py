from lucid.chain_client.daemon import build
from lucid.runtime.daemon import main

main("chain_client", build)
