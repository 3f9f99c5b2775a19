# keycheck: on erase ($1 = 0), not on upgrade, disable the agent's user unit for every user.
if [ "$1" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl --global disable keycheck-agent.service >/dev/null 2>&1 || :
fi
