#!/usr/bin/env bash
# Build the proxypair server image on Naver Cloud Platform: `make image` runs
# this after building the package (make deb). Extra arguments go to
# `packer build`, e.g.
#       packer/build.sh -var support_vpc=false
#       packer/build.sh -var-file=my.pkrvars.hcl
#
# Needs: Packer >= 1.7 (for `packer init` and the ncloud plugin), network
# access to NCP and to releases.hashicorp.com/GitHub for the plugin, and
# NCLOUD_ACCESS_KEY / NCLOUD_SECRET_KEY (or PKR_VAR_ncloud_access_key /
# PKR_VAR_ncloud_secret_key). See packer/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
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

# The package: PROXYPAIR_DEB, or the newest one `make deb` left in bin/.
deb=${PROXYPAIR_DEB:-}
if [[ -z $deb ]]; then
	newest=
	for f in "$repo"/bin/proxypair_*_amd64.deb; do
		if [[ -f $f && (-z $newest || $f -nt $newest) ]]; then
			newest=$f
		fi
	done
	deb=$newest
fi
[[ -n $deb ]] ||
	die "no proxypair package in $repo/bin: run 'make image' (it runs make deb) or set PROXYPAIR_DEB"
[[ -f $deb ]] || die "PROXYPAIR_DEB=$deb does not exist"
echo "packer/build.sh: image with $(basename "$deb")"

packer init "$here"
packer build -var "proxypair_deb=$deb" "$@" "$here"
