from lucid.admin_ui.daemon import build
from lucid.runtime.daemon import main

main("admin_ui", build)
