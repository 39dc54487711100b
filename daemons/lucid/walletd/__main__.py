from lucid.runtime.daemon import main
from lucid.walletd.daemon import build

main("walletd", build)
