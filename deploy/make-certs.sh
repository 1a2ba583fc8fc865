#!/bin/sh
# make-certs.sh: a development certificate authority and node certificates, made with the
# openssl command (`make certs` runs it into build/certs; never commit the output).
#
#   deploy/make-certs.sh DIR                  CA (if DIR has none) + node0..node4 + client
#   deploy/make-certs.sh DIR leaf NAME [FROM UNTIL]
#                                             one more certificate NAME.pem/NAME.key signed
#                                             by DIR's CA; FROM/UNTIL as YYYYMMDDHHMMSSZ
#                                             (tests make expired ones this way)
#
# Files: ca.pem (give it to --peer-ca-file and to `vesper --cacert`), ca.key, and for each
# NAME a NAME.pem / NAME.key pair. nodeN carries the DNS names vesperN (the compose
# hostname), localhost and 127.0.0.1, and the IP address 127.0.0.1; h2o's client matches
# host names against DNS names only, hence 127.0.0.1 as a DNS name too. Node certificates
# serve both sides (server and client authentication), so one pair can be the node's
# --tls-cert-file and its --peer-cert-file. Keys are ECDSA P-256, valid CERT_DAYS (825);
# node keys are world-readable (mode 644) so the containers' user can read the mounted
# copies: these are development certificates, never production ones.
set -eu

dir=${1:?usage: make-certs.sh DIR [leaf NAME [FROM UNTIL]]}
days=${CERT_DAYS:-825}
mkdir -p "$dir"
cd "$dir"

make_ca() {
    [ -f ca.pem ] && [ -f ca.key ] && return 0
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
        -out ca.pem -days "$days" -subj "/O=Vesper development/CN=Vesper development CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 600 ca.key
}

# leaf NAME [FROM UNTIL]: through `openssl ca`, which accepts explicit validity dates.
leaf() {
    name=$1
    sans="DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1"
    case $name in
    node[0-9]*) sans="DNS:vesper${name#node},$sans" ;;
    *) sans="DNS:$name,$sans" ;;
    esac
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    : >"$work/index.txt"
    cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = dev
[dev]
database = $work/index.txt
new_certs_dir = $work
rand_serial = yes
default_md = sha256
default_days = $days
policy = anything
unique_subject = no
[anything]
commonName = supplied
organizationName = optional
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = $sans
EOF
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
        -out "$work/req.csr" -subj "/O=Vesper development/CN=$name" 2>/dev/null
    dates=""
    if [ $# -ge 3 ]; then
        dates="-startdate $2 -enddate $3"
    fi
    # shellcheck disable=SC2086
    openssl ca -batch -notext -config "$work/ca.cnf" -extensions leaf -cert ca.pem \
        -keyfile ca.key $dates -in "$work/req.csr" -out "$name.pem" 2>"$work/err" ||
        { cat "$work/err" >&2; exit 1; }
    # Development keys: readable by the containers' user (uid 65532) through the mount.
    chmod 644 "$name.key"
    rm -rf "$work"
    trap - EXIT
}

make_ca
if [ "${2:-}" = leaf ]; then
    shift 2
    leaf "$@"
    exit 0
fi
for n in node0 node1 node2 node3 node4 client; do
    [ -f "$n.pem" ] || leaf "$n"
done
echo "certificates in $dir: ca.pem, node0..node4 and client (.pem/.key)"
