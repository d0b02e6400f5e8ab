#include "attestation/service/status_page.hpp"

#include <cstdint>
#include <span>

#include "attestation/common/encoding.hpp"
#include "policy/host/pki_build.hpp"

namespace redoubt::attest {

namespace {

constexpr const char* kStyle = R"CSS(
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f4f5f7}
header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header h1{font-size:18px;margin:0;font-weight:600}
header .sp{flex:1}
main{padding:16px 20px}
#counts span{display:inline-block;margin-right:12px}
table{border-collapse:collapse;width:100%;background:#fff;margin-top:12px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e1e4ea;vertical-align:top}
th{background:#eceef2;font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px;color:#fff}
.s-affirming{background:#1e7d3a}.s-warning{background:#b7791f}.s-contraindicated{background:#c62828}
.s-stale,.s-unreachable{background:#6b4fa0}.s-none{background:#7a8190}
.why ul{margin:0;padding-left:16px}.why code{font-weight:600}
.msg{color:#555}.err{color:#c62828}
form#login{background:#fff;padding:16px;max-width:520px;border:1px solid #e1e4ea}
form#login input{width:100%;box-sizing:border-box;margin:6px 0 10px;font-family:monospace}
[hidden]{display:none!important}
)CSS";

// textContent only (never innerHTML): ids, finding codes and messages come from endpoints' logs.
constexpr const char* kScript = R"JS(
'use strict';
(function () {
  const KEY = 'redoubt-verifier-token';
  const $ = (id) => document.getElementById(id);
  const frag = new URLSearchParams(location.hash.slice(1));
  if (frag.get('token')) {
    sessionStorage.setItem(KEY, frag.get('token'));
    history.replaceState(null, '', location.pathname + location.search);
  }
  const q = new URLSearchParams(location.search);
  if (q.get('status')) $('filter').value = q.get('status');
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function when(t, now) {
    if (t === null || t === undefined) return 'never';
    const ago = Math.max(0, now - t);
    return new Date(t * 1000).toISOString().replace('.000', '') + ' (' + ago + ' s ago)';
  }
  function showLogin(why) {
    $('login').hidden = false;
    $('fleet').hidden = true;
    $('logout').hidden = true;
    $('state').textContent = why || '';
    document.body.dataset.state = 'login';
  }
  function render(j) {
    const tb = $('rows');
    tb.replaceChildren();
    const counts = {};
    for (const e of j.endpoints) {
      counts[e.status] = (counts[e.status] || 0) + 1;
      const tr = el('tr');
      tr.dataset.endpoint = e.id;
      tr.dataset.status = e.status;
      tr.append(el('td', 'id', e.id));
      const st = el('td');
      st.append(el('span', 'badge s-' + e.status, e.status));
      if (e.verdict_status && e.verdict_status !== e.status) st.append(el('div', 'msg', 'last verdict: ' + e.verdict_status));
      tr.append(st);
      const why = el('td', 'why');
      const ul = el('ul');
      for (const f of e.why) {
        const li = el('li', 'finding ' + f.kind);
        li.dataset.code = f.code;
        li.append(el('code', '', f.code), document.createTextNode(': ' + f.message));
        ul.append(li);
      }
      if (e.why.length) why.append(ul);
      tr.append(why);
      tr.append(el('td', 'seen', when(e.last_seen, j.now)));
      tr.append(el('td', '', e.mode));
      tb.append(tr);
    }
    $('counts').replaceChildren(...Object.keys(counts).sort().map((k) => el('span', '', k + ': ' + counts[k])));
    $('state').textContent = j.endpoints.length + ' endpoint(s)' + (j.filter ? ' with status ' + j.filter : '') +
      ', as of ' + new Date(j.now * 1000).toISOString().replace('.000', '');
    $('login').hidden = true;
    $('fleet').hidden = false;
    $('logout').hidden = false;
    document.body.dataset.state = 'loaded';
  }
  async function load() {
    const tok = sessionStorage.getItem(KEY);
    if (!tok) return showLogin('');
    const f = $('filter').value;
    let r;
    try {
      r = await fetch('/v1/fleet' + (f ? '?status=' + encodeURIComponent(f) : ''),
                      {headers: {Authorization: 'Bearer ' + tok}, cache: 'no-store'});
    } catch (e) {
      $('state').textContent = 'the verifier does not answer: ' + e;
      document.body.dataset.state = 'error';
      return;
    }
    const j = await r.json().catch(() => ({}));
    if (r.status === 401) {
      sessionStorage.removeItem(KEY);
      return showLogin('token refused (' + (j.error || r.status) + '): ' + (j.reason || ''));
    }
    if (!r.ok) {
      $('state').textContent = 'HTTP ' + r.status + ' ' + (j.error || '') + ': ' + (j.reason || '');
      $('state').className = 'err';
      document.body.dataset.state = 'error';
      return;
    }
    render(j);
  }
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $('token').value.trim());
    $('token').value = '';
    load();
  });
  $('logout').addEventListener('click', () => { sessionStorage.removeItem(KEY); showLogin('signed out'); });
  $('filter').addEventListener('change', () => {
    const u = new URL(location.href);
    if ($('filter').value) u.searchParams.set('status', $('filter').value); else u.searchParams.delete('status');
    history.replaceState(null, '', u.pathname + u.search);
    load();
  });
  load();
  setInterval(() => { if (document.body.dataset.state === 'loaded') load(); }, 30000);
})();
)JS";

constexpr const char* kBody = R"HTML(<body data-state="loading">
<header><h1>Redoubt verifier: fleet status</h1><span class="sp"></span>
<label>Status <select id="filter">
<option value="">all</option><option>affirming</option><option>warning</option><option>contraindicated</option>
<option>stale</option><option>unreachable</option><option>none</option></select></label>
<button id="logout" type="button" hidden>Sign out</button></header>
<main>
<form id="login" hidden><label for="token">Bearer token (admin or relying-party; <code>redoubt verifier token issue</code>)</label>
<input id="token" type="password" autocomplete="off" required><button type="submit">Show the fleet</button></form>
<p id="state" class="msg"></p><div id="counts"></div>
<table id="fleet" hidden><thead><tr><th>Endpoint</th><th>Status</th><th>Why (findings of the last verdict)</th><th>Last seen</th><th>Mode</th></tr></thead>
<tbody id="rows"></tbody></table>
</main>
)HTML";

std::string sha256_b64(const char* s) {
  const std::string t(s);
  return to_base64(policy::sha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(t.data()), t.size())));
}

}  // namespace

const StatusPage& status_page() {
  static const StatusPage p = [] {
    StatusPage s;
    s.html = std::string("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Redoubt fleet status</title>\n"
                         "<meta name=\"viewport\" content=\"width=device-width\"><style>") +
             kStyle + "</style></head>\n" + kBody + "<script>" + kScript + "</script>\n</body></html>\n";
    // CSP Level 3 §8.3: an inline <script>/<style> runs only if its hash is listed; nothing else loads.
    s.csp = "default-src 'none'; script-src 'sha256-" + sha256_b64(kScript) + "'; style-src 'sha256-" + sha256_b64(kStyle) +
            "'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    return s;
  }();
  return p;
}

}  // namespace redoubt::attest
