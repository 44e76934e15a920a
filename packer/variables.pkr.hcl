# Inputs of the proxypair image build. Set them with -var, a .pkrvars.hcl
# file, or PKR_VAR_<name> in the environment; see packer/README.md.

# --- NCP credentials and place ---------------------------------------------

variable "ncloud_access_key" {
  type        = string
  description = "NCP API access key (default: $NCLOUD_ACCESS_KEY)."
  default     = env("NCLOUD_ACCESS_KEY")
  sensitive   = true
}

variable "ncloud_secret_key" {
  type        = string
  description = "NCP API secret key (default: $NCLOUD_SECRET_KEY)."
  default     = env("NCLOUD_SECRET_KEY")
  sensitive   = true
}

variable "site" {
  type        = string
  description = "NCP site: public, gov or fin."
  default     = "public"
  validation {
    condition     = contains(["public", "gov", "fin"], var.site)
    error_message = "The site value must be public, gov or fin."
  }
}

variable "region_code" {
  type        = string
  description = "NCP region code, e.g. KR (public, gov) or FKR (fin)."
  default     = "KR"
}

# --- Classic or VPC --------------------------------------------------------

variable "support_vpc" {
  type        = bool
  description = "Build in NCP VPC (true) or Classic (false). Also selects the default proxypair config (vpc-master.yaml or master.yaml)."
  default     = true
}

variable "vpc_no" {
  type        = string
  description = "VPC for the temporary build server (VPC only; empty: derived from subnet_no or found by the builder)."
  default     = ""
}

variable "subnet_no" {
  type        = string
  description = "Subnet for the temporary build server (VPC only). It needs a public IP for SSH, so use a public subnet; the proxy pair itself lives in a private subnet."
  default     = ""
}

variable "access_control_group_no" {
  type        = string
  description = "ACG for the build server (empty: VPC builds create a temporary one allowing SSH)."
  default     = ""
}

# --- Base image --------------------------------------------------------------

variable "ubuntu_version" {
  type        = string
  description = "Ubuntu release of the base image: 18.04, 20.04 (VPC only: NCP has no Classic 20.04 image) or 22.04 (KVM only: needs member_server_image_no, see packer/README.md)."
  default     = "18.04"
  validation {
    condition     = contains(["18.04", "20.04", "22.04"], var.ubuntu_version)
    error_message = "The ubuntu_version value must be 18.04, 20.04 or 22.04."
  }
}

variable "server_image_product_code" {
  type        = string
  description = "Base image product code. Empty: Ubuntu for ubuntu_version on the chosen platform (Classic 18.04 SPSW0LINUX000130, VPC 18.04 SW.VSVR.OS.LNX64.UBNTU.SVR1804.B050, VPC 20.04 SW.VSVR.OS.LNX64.UBNTU.SVR2004.B050)."
  default     = ""
}

variable "member_server_image_no" {
  type        = string
  description = "Build on one of your own member server images instead of a product code (NCP is retiring 18.04 product codes; 22.04 has none); overrides server_image_product_code. Set ubuntu_version to the image's release: it names the image."
  default     = ""
}

variable "server_product_code" {
  type        = string
  description = "Server spec for the build server (empty: NCP's default for the image)."
  default     = ""
}

variable "image_name" {
  type        = string
  description = "Name of the resulting server image (3-30 characters; empty: proxypair-<timestamp>)."
  default     = ""
}

# --- What goes into the image ---------------------------------------------

variable "proxypair_deb" {
  type        = string
  description = "The proxypair package, bin/proxypair_<version>_amd64.deb (make deb; packer/build.sh passes the newest)."
  default     = ""
}
