#!/usr/bin/env bash
# Build the proxypair server image on Naver Cloud Platform: `make image` runs
# this after building bin/proxypair. Extra arguments go to `packer build`,
# e.g.  packer/build.sh -var support_vpc=false
#       packer/build.sh -var-file=my.pkrvars.hcl
#
# Needs: Packer >= 1.7 (for `packer init` and the ncloud plugin), network
# access to NCP and to releases.hashicorp.com/GitHub for the plugin, and
# NCLOUD_ACCESS_KEY / NCLOUD_SECRET_KEY (or PKR_VAR_ncloud_access_key /
# PKR_VAR_ncloud_secret_key). See packer/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
binary=${PROXYPAIR_BINARY:-$repo/bin/proxypair}
min_packer=1.7.0

die() {
	echo "packer/build.sh: $*" >&2
	exit 1
}

command -v packer >/dev/null ||
	die "packer not found. Install Packer >= $min_packer from https://developer.hashicorp.com/packer/install"
version=$(packer version | sed -n 's/^Packer v\([0-9][0-9.]*\).*/\1/p' | head -n1)
[[ -n $version ]] || die "cannot read the version from 'packer version'"
if [[ $(printf '%s\n%s\n' "$min_packer" "$version" | sort -V | head -n1) != "$min_packer" ]]; then
	die "Packer $version is too old: need >= $min_packer for 'packer init' and the ncloud plugin (Debian's packer 1.6 only runs the offline checks)"
fi

missing=()
[[ -n ${NCLOUD_ACCESS_KEY:-} || -n ${PKR_VAR_ncloud_access_key:-} ]] || missing+=(NCLOUD_ACCESS_KEY)
[[ -n ${NCLOUD_SECRET_KEY:-} || -n ${PKR_VAR_ncloud_secret_key:-} ]] || missing+=(NCLOUD_SECRET_KEY)
if ((${#missing[@]} > 0)); then
	die "missing NCP credentials: set ${missing[*]} (NCP console > My Page > Account Management > Authentication Key)"
fi

[[ -f $binary ]] ||
	die "no proxypair binary at $binary: run 'make image' (it builds it) or set PROXYPAIR_BINARY"
[[ -x $binary ]] || die "$binary is not executable"

packer init "$here"
packer build -var "source_dir=$repo" -var "proxypair_binary=$binary" "$@" "$here"
