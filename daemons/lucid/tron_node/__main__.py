from lucid.runtime.daemon import main
from lucid.tron_node.daemon import build

main("tron_node", build)
