# Packer >= 1.7 reads this; `packer init packer/` installs the NCP builder.
# It is kept in its own file because Packer 1.6 (Debian's package, used for
# the offline checks) rejects the block: the checks validate a copy of this
# directory without it.
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    ncloud = {
      source  = "github.com/hashicorp/ncloud"
      version = ">= 1.0.1"
    }
  }
}
