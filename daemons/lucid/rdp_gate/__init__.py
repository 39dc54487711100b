"""rdp_gate: the login gate of xrdp sessions — waiting screen, approval, recording, end.

See docs/rdp.md. ``xrdp`` starts xrdp + sesman from the project's configuration (rdp/);
``pam_gate`` is the same gate for PAM logins (SSH).
"""
