# The proxypair appliance image for Naver Cloud Platform: Ubuntu with HAProxy
# and the proxypair .deb (binary, units enabled, default config), the same
# package a hand-installed server gets. Build it with `make image`
# (packer/build.sh); see packer/README.md.

locals {
  # NCP's Ubuntu image product codes (terraform-ncloud-docs
  # server_image_product.md): XEN images, the only kind the ncloud builder
  # can start from by product code. Classic has no 20.04 image, and 22.04
  # exists only as a KVM image, which the builder cannot start from: build
  # 22.04 (or any KVM image) from a member server image, see packer/README.md.
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
  server_image_description  = "proxypair VRRP + HAProxy appliance (Ubuntu ${var.ubuntu_version}, ${local.platform}, ${basename(var.proxypair_deb)})"
  communicator              = "ssh"
  ssh_username              = "root"
  ssh_timeout               = "20m"
}

build {
  sources = ["source.ncloud.proxypair"]

  provisioner "shell" {
    inline = ["rm -rf ${local.staging}", "mkdir -p ${local.staging}"]
  }

  # The package (make deb): everything proxypair puts on the server.
  provisioner "file" {
    source      = var.proxypair_deb
    destination = "${local.staging}/proxypair.deb"
  }

  provisioner "shell" {
    script = "${path.root}/scripts/provision.sh"
    environment_vars = [
      "PROXYPAIR_DEB=${local.staging}/proxypair.deb",
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
