#!/usr/bin/env bash
# Installs npm's code-server (a real VS Code build served to a browser) into a cache folder
# outside the source tree, for the real-VS-Code test (tests/extensions/test_code_server.py).
#
#   install-code-server.sh DEST        e.g. ~/.cache/codefill/code-server-4.100.0
#
# Nothing is downloaded from GitHub: every package comes from the npm registry, with install
# scripts off, and the few native modules VS Code's server needs are rebuilt against this
# Node's headers. @vscode/ripgrep's postinstall (a binary from GitHub releases) is replaced by
# Debian's ripgrep. DEST appears only once everything is in place (built in DEST.partial, then
# renamed), so an interrupted install is started again, never half used.
set -euo pipefail

VERSION=4.100.0
dest=${1:?usage: install-code-server.sh DEST}
if [ -f "$dest/.installed-$VERSION" ]; then
  exit 0
fi
rg=$(command -v rg) || { echo "ripgrep (rg) is missing: apt-get install ripgrep" >&2; exit 1; }
# node-gyp builds against the headers of the Node that runs code-server (Debian/NodeSource ship them here).
nodedir=$(dirname "$(dirname "$(command -v node)")")
[ -f "$nodedir/include/node/node.h" ] || { echo "no Node headers under $nodedir/include/node" >&2; exit 1; }
export npm_config_nodedir=$nodedir npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

started=$(date +%s)
work=$dest.partial
rm -rf "$work"
mkdir -p "$work"
cd "$work"
echo ">>> code-server $VERSION: npm packages (install scripts off)"
npm install --no-save --ignore-scripts --loglevel=error "code-server@$VERSION"

cd node_modules/code-server/lib/vscode
echo ">>> code-server $VERSION: VS Code's server packages"
npm install --omit=dev --ignore-scripts --loglevel=error
echo ">>> code-server $VERSION: native modules against Node $(node --version)"
npm rebuild --loglevel=error @vscode/spdlog native-watchdog
# node-pty (the integrated terminal) builds its binary, then a post-build step of its own fails;
# the terminal is not used by the test, so a failure here is reported and tolerated.
npm rebuild --loglevel=error node-pty || echo ">>> node-pty: its post-build step failed (the terminal may not work)"
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$rg" node_modules/@vscode/ripgrep/bin/rg
# The server looks for node_modules.asar; a link to the plain folder serves.
ln -sfn node_modules node_modules.asar

cd "$work"
# code-server's own native module (password hashing), hoisted to the top; built here rather
# than fetched: node-pre-gyp's prebuilt binaries live on GitHub.
npm_config_build_from_source=true npm rebuild --loglevel=error argon2
XDG_CONFIG_HOME=$work/.config node node_modules/code-server/out/node/entry.js --version >/dev/null

touch "$work/.installed-$VERSION"
rm -rf "$dest"
mv "$work" "$dest"
echo ">>> code-server $VERSION installed in $dest in $(( $(date +%s) - started )) s"
