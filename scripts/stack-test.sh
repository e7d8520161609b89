#!/usr/bin/env bash
# The stack test (tests/stack): needs the terraform CLI and the AWS provider in a local filesystem
# mirror, since tests never download. Without them `make test` fails here and says what is missing
# (`make unit` runs everything else).
set -uo pipefail
pytest=${1:-pytest}
mirror=""
for dir in /opt/tf-plugins "$HOME/.terraform.d/plugins" /usr/share/terraform/plugins /usr/local/share/terraform/plugins; do
  [[ -d "$dir/registry.terraform.io/hashicorp/aws" ]] && { mirror=$dir; break; }
done
if ! command -v terraform >/dev/null 2>&1 || [[ -z $mirror ]]; then
  why="the terraform CLI is not on PATH"
  command -v terraform >/dev/null 2>&1 && why="no hashicorp/aws provider in a local mirror (e.g. terraform providers mirror /opt/tf-plugins, once, online)"
  printf '\n%s\n%s\n%s\n' \
    "################################################################################" \
    "STACK TEST CANNOT RUN: $why." \
    "The deployed stack (terraform apply of envs/example + the Lambda zip) is part of make test. ####"
  exit 1
fi
exec "$pytest" tests/stack
