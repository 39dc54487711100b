"""admin-ui: the device web page (aiohttp) and its JSON API, a client of the other daemons.

What it is:

* one aiohttp application (`app.create_app`) serving static pages (``static/``, no inline
  script) and a JSON API described by an OpenAPI 3.1 document at ``/api/openapi.json``;
* every route is listed in one table (`roles.ROUTES`: route -> roles allowed) and one
  middleware (`security.access_middleware`) enforces it: 401 without a login, 403 for a
  role the table does not list, 403 for a state change without the session's CSRF token
  or from a foreign ``Origin``;
* accounts, password hashes (Argon2id), TOTP secrets, passkey public keys for *login*,
  enrollment invitations and login sessions live in admin-ui's own SQLite database
  (`accounts`, `auth`); everything else is asked over D-Bus: gatekeeper (requests,
  approvals, policy, passkey registration), merkle (sealed sessions, manifests, bundle
  export), recorder (recordings), walletd (public identity);
* under abuse it stays answering within bounded memory: guesses are rate-limited per account,
  per address and in all, each reserved before it is evaluated (`limits`); Argon2 runs in
  bounded slots, only for admitted guesses (`auth.Passwords`); connections are capped and
  headers and bodies have deadlines (`server`); event streams are capped per login and in
  all (`sse`); repeats in the log are collapsed (`lucid.runtime.logflood`).

Onboarding (decided here): admin-ui has **no setup code of its own** and reads nothing of
gatekeeper's state. The first visit asks for the setup code the device shows (gatekeeper
keeps it in its state dir, 0600, and never logs it; ``lucid up`` shows it on a terminal),
an account name, an optional
password and a passkey: admin-ui starts a passkey registration with gatekeeper
(BeginRegistration) and has gatekeeper check the code against it with a stand-in
credential that can never register (so a wrong code is refused before the browser makes a
passkey; see `api_auth`), the browser creates the credential, admin-ui verifies the
registration itself (to keep the public key for passkey login) and hands the browser's
``PublicKeyCredential`` JSON with the code to gatekeeper (CompleteRegistration). Only if
gatekeeper accepts the code (single use, first account = owner) does admin-ui create its
owner record (password hash, passkey) — so one code, checked by one daemon, creates the
owner in both. Later accounts get a one-time enrollment code (gatekeeper CreateEnrollment,
by an owner or admin); admin-ui keeps a hash of it so that password-only accounts can be
enrolled without a passkey.

What it is not: it never holds keys that sign evidence or decrypt recordings (in-browser
playback for roles allowed to decrypt comes later), never verifies approval assertions
(gatekeeper does, and records them), and keeps login rate-limit counters in memory only.
"""
