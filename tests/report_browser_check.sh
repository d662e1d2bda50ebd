#!/bin/sh
# Opens a run's index.html in a real headless browser (Debian's chromium) and checks that
# every picture on the page loaded. Not part of `cargo test`: it needs chromium
# (`apt-get install chromium`) and takes a few seconds.
#
#   tests/report_browser_check.sh RESULTS_DIR [SCREENSHOT.png]
#
# The page itself has no scripts. The check copies it next to the original (so relative
# picture paths still resolve), appends a script that counts the images whose decoding
# failed, lets chromium load it, and reads the count back from the dumped DOM. With a
# second argument it also saves a screenshot of the unmodified page, for a visual check.
set -eu
dir=$(cd "${1:?usage: $0 RESULTS_DIR [SCREENSHOT.png]}" && pwd)
shot=${2:-}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "SKIPPED: no chromium found (apt-get install chromium)" >&2
    exit 0
fi
[ -f "$dir/index.html" ] || { echo "no $dir/index.html" >&2; exit 1; }

check="$dir/.browser_check.html"
trap 'rm -f "$check"' EXIT
sed 's#</body>#<script>\
window.addEventListener("load", function () {\
  var imgs = Array.prototype.slice.call(document.images);\
  var bad = imgs.filter(function (i) { return !(i.complete \&\& i.naturalWidth > 0); });\
  document.body.setAttribute("data-check", "images=" + imgs.length + " broken=" + bad.length +\
    " " + bad.map(function (i) { return i.getAttribute("alt"); }).join("|"));\
});\
</script></body>#' "$dir/index.html" > "$check"

flags="--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --allow-file-access-from-files --virtual-time-budget=20000"
# shellcheck disable=SC2086
result=$("$browser" $flags --dump-dom "file://$check" 2>/dev/null | grep -o 'data-check="[^"]*"' || true)
echo "$result"
case "$result" in
    *"images=0 "*|"") echo "FAIL: no images found or the page did not load" >&2; exit 1 ;;
    *" broken=0 "*) echo "OK: every image loaded" ;;
    *) echo "FAIL: some images did not load" >&2; exit 1 ;;
esac
if [ -n "$shot" ]; then
    # shellcheck disable=SC2086
    "$browser" $flags --hide-scrollbars --window-size=1400,2400 --screenshot="$shot" \
        "file://$dir/index.html" 2>/dev/null
    echo "screenshot: $shot"
fi
