# The proxypair appliance image for Naver Cloud Platform: Ubuntu with HAProxy,
# the static proxypair binary, its systemd units (enabled) and a default
# config. Build it with `make image` (packer/build.sh); see packer/README.md.

locals {
  # NCP's Ubuntu product codes (terraform-ncloud-docs server_image_product.md).
  # Classic has no 20.04 image.
  ubuntu_image_codes = {
    classic = {
      "18.04" = "SPSW0LINUX000130"
    }
    vpc = {
      "18.04" = "SW.VSVR.OS.LNX64.UBNTU.SVR1804.B050"
      "20.04" = "SW.VSVR.OS.LNX64.UBNTU.SVR2004.B050"
    }
  }
  platform = var.support_vpc ? "vpc" : "classic"

  # Exactly one of product code / member image goes to the builder; an empty
  # code with no member image makes the builder name both keys in its error.
  image_product_code = var.member_server_image_no != "" ? "" : (
    var.server_image_product_code != "" ? var.server_image_product_code :
    lookup(local.ubuntu_image_codes[local.platform], var.ubuntu_version, "")
  )

  source_dir = var.source_dir != "" ? var.source_dir : "${path.root}/.."
  binary     = var.proxypair_binary != "" ? var.proxypair_binary : "${local.source_dir}/bin/proxypair"
  image_name = var.image_name != "" ? var.image_name : "proxypair-${formatdate("YYMMDD-hhmm", timestamp())}"

  # Where the provisioners stage files on the build server.
  staging = "/tmp/proxypair-image"
}

source "ncloud" "proxypair" {
  access_key                = var.ncloud_access_key
  secret_key                = var.ncloud_secret_key
  site                      = var.site
  region_code               = var.region_code
  support_vpc               = var.support_vpc
  vpc_no                    = var.vpc_no
  subnet_no                 = var.subnet_no
  access_control_group_no   = var.access_control_group_no
  server_image_product_code = local.image_product_code
  member_server_image_no    = var.member_server_image_no
  server_product_code       = var.server_product_code
  server_image_name         = local.image_name
  server_image_description  = "proxypair VRRP + HAProxy appliance (Ubuntu ${var.ubuntu_version}, ${local.platform})"
  communicator              = "ssh"
  ssh_username              = "root"
  ssh_timeout               = "20m"
}

build {
  sources = ["source.ncloud.proxypair"]

  provisioner "shell" {
    inline = ["rm -rf ${local.staging}", "mkdir -p ${local.staging}"]
  }

  # The units, the eth1 helper and the sysusers.d entry.
  provisioner "file" {
    source      = "${local.source_dir}/systemd"
    destination = "${local.staging}/"
  }

  # Example configs: the default config and /etc/default/proxypair come from
  # here.
  provisioner "file" {
    source      = "${local.source_dir}/configs"
    destination = "${local.staging}/"
  }

  provisioner "file" {
    source      = local.binary
    destination = "${local.staging}/proxypair"
  }

  provisioner "shell" {
    script = "${path.root}/scripts/provision.sh"
    environment_vars = [
      "SRC_DIR=${local.staging}",
      "PROXYPAIR_VARIANT=${local.platform}",
    ]
  }

  provisioner "shell" {
    script = "${path.root}/scripts/cleanup.sh"
    environment_vars = [
      "SRC_DIR=${local.staging}",
    ]
  }
}
