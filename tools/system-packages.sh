# shellcheck shell=bash
# Sourced by tools/run.sh and tools/install-rdkafka.sh. `weir_need SET` makes sure the system
# packages a job needs are there (Debian package names; Ubuntu and Raspberry Pi OS share them):
# as root it installs the missing ones with apt-get (how CI runs); otherwise it names them in one
# sentence with the apt-get command and fails, rather than letting a test fail obscurely later.
#   kafka    Java 17+ and Maven: the local Kafka (its jars come from Maven Central)
#   test     kafka + Debian's Chromium (the status page test), shellcheck (deploy/install.sh),
#            openssl (certificates for the TLS tests and the local Kafka's TLS listeners),
#            paho-mqtt for Debian's python3 and mosquitto-clients (mosquitto_pub): independent
#            MQTT 3.1.1 / 5 clients of the front-end tests
#   rdkafka  what node-rdkafka needs to build librdkafka with TLS, SASL, zstd and lz4

weir_packages() {
  case "$1" in
    kafka) echo default-jre-headless maven ;;
    test) echo default-jre-headless maven chromium shellcheck openssl python3-paho-mqtt mosquitto-clients ;;
    rdkafka) echo build-essential python3 libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev ;;
    *) echo "weir: unknown package set $1" >&2; return 1 ;;
  esac
}

# A package counts as present when its command is (whichever package provided it); libraries are
# looked up with dpkg where there is one.
weir_has_package() {
  case "$1" in
    default-jre-headless) command -v java >/dev/null 2>&1 ;;
    maven) command -v mvn >/dev/null 2>&1 ;;
    chromium) [ -x "${WEIR_CHROMIUM:-/usr/bin/chromium}" ] ;;
    build-essential) command -v g++ >/dev/null 2>&1 && command -v make >/dev/null 2>&1 ;;
    shellcheck | openssl | python3) command -v "$1" >/dev/null 2>&1 ;;
    # Present when the interpreter the tests run can import it (test/support/paho.ts).
    mosquitto-clients) command -v mosquitto_pub >/dev/null 2>&1 ;;
    python3-paho-mqtt) "${WEIR_TEST_PYTHON:-/usr/bin/python3}" -c 'import paho.mqtt.client' >/dev/null 2>&1 ;;
    *)
      if command -v dpkg-query >/dev/null 2>&1; then
        dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
      fi
      ;;
  esac
}

weir_need() {
  local set="$1" purpose="$2" pkg missing=()
  for pkg in $(weir_packages "$set"); do
    weir_has_package "$pkg" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    weir_step "installing ${missing[*]} for $purpose (apt-get)" \
      env DEBIAN_FRONTEND=noninteractive bash -c 'apt-get update -q && apt-get install -y -q "$@"' apt "${missing[@]}"
    return
  fi
  echo "weir: $purpose need system packages that are missing: ${missing[*]}. Run \`sudo apt-get install ${missing[*]}\` (Debian, Ubuntu, Raspberry Pi OS; elsewhere the same from your package manager), then this command again." >&2
  return 1
}
