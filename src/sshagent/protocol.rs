//! PURE: the subset of the ssh-agent protocol keycheck speaks (draft-miller-ssh-agent).
