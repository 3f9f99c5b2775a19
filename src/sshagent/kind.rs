//! PURE: which agent a process is (OpenSSH ssh-agent, gpg-agent, gnome-keyring, vault agents) and how long it keeps keys.
