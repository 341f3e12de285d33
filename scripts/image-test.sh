#!/usr/bin/env bash
# Builds the OCI image of deploy/Containerfile with buildah (as `make image`
# does) and checks it: the binary runs inside it (buildah run, chroot
# isolation: no container runtime or daemon needed) and prints the version
# it was built as, it runs as a non-root user, and the image holds no
# shell. The image and its working container are removed afterwards.
set -euo pipefail
version=$1
tag=localhost/hourglass-test:$version
buildah build --quiet --isolation chroot -f deploy/Containerfile \
  --build-arg VERSION="$version" --build-arg ARCH=amd64 -t "$tag" . >/dev/null
ctr=$(buildah from "$tag")
trap 'buildah rm "$ctr" >/dev/null; buildah rmi "$tag" >/dev/null' EXIT
out=$(buildah run --isolation chroot "$ctr" -- /hourglass version)
case "$out" in
  "hourglass $version "*) ;;
  *) echo "image: /hourglass version printed: $out (want hourglass $version …)"; exit 1 ;;
esac
user=$(buildah inspect --format '{{.OCIv1.Config.User}}' "$tag")
case "$user" in
  ""|0|0:*|root|root:*) echo "image: runs as root ($user)"; exit 1 ;;
esac
if buildah run --isolation chroot "$ctr" -- /bin/sh -c true >/dev/null 2>&1; then
  echo "image: has a shell"; exit 1
fi
echo "image $tag: runs as $user, no shell; $out"
