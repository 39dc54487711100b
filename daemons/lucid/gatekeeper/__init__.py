"""gatekeeper: the policy engine — default deny, passkey-signed just-in-time grants."""
