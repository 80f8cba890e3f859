// dirstream console: loads server-rendered fragments (/ui/...) with the admin token as a bearer
// header, formats times in the viewer's zone, sends "Sync now", draws the activity charts.
(() => {
  const KEY = 'dirstream.adminToken';
  const main = document.getElementById('main');
  const flash = document.getElementById('flash');
  let refreshTimer = null;
  let loading = 0;

  const token = () => sessionStorage.getItem(KEY);
  const headers = (extra = {}) => ({ authorization: `Bearer ${token()}`, ...extra });
  const currentPath = () => (location.hash.length > 1 ? location.hash.slice(1) : '/profiles');

  function showFlash(text, kind = 'info') {
    flash.textContent = text;
    flash.className = `flash flash-${kind}`;
    flash.hidden = false;
  }

  function showLogin(message) {
    clearTimeout(refreshTimer);
    document.getElementById('who').textContent = '';
    document.getElementById('sign-out').hidden = true;
    main.replaceChildren(document.getElementById('login-template').content.cloneNode(true));
    if (message) {
      const refusal = document.getElementById('refusal');
      refusal.textContent = message;
      refusal.classList.add('warn');
    }
    document.getElementById('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = new FormData(event.target).get('token');
      if (typeof value === 'string' && value.trim() !== '') {
        sessionStorage.setItem(KEY, value.trim());
        whoami();
        load(currentPath());
      }
    });
  }

  async function whoami() {
    const res = await fetch('/v1/me', { headers: headers() });
    if (!res.ok) return;
    const me = await res.json();
    document.getElementById('who').textContent = `${me.name} · ${me.role}`;
    document.getElementById('sign-out').hidden = false;
  }

  function formatTimes(root) {
    for (const el of root.querySelectorAll('time[datetime]')) {
      const date = new Date(el.getAttribute('datetime'));
      if (Number.isNaN(date.getTime())) continue;
      el.textContent = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
      el.title = `${el.getAttribute('datetime')} (UTC) · ${relative(date)}`;
    }
  }

  function relative(date) {
    const s = Math.round((Date.now() - date.getTime()) / 1000);
    const abs = Math.abs(s);
    const text =
      abs < 90
        ? `${abs} s`
        : abs < 5400
          ? `${Math.round(abs / 60)} min`
          : abs < 172800
            ? `${Math.round(abs / 3600)} h`
            : `${Math.round(abs / 86400)} days`;
    return s >= 0 ? `${text} ago` : `in ${text}`;
  }

  async function load(path, { quiet = false } = {}) {
    clearTimeout(refreshTimer);
    if (!token()) return showLogin();
    const mine = ++loading;
    if (!quiet) main.setAttribute('aria-busy', 'true');
    let res;
    try {
      res = await fetch(`/ui${path}`, { headers: headers() });
    } catch {
      if (mine === loading) showFlash('The console did not answer.', 'error');
      return;
    }
    if (mine !== loading) return;
    main.removeAttribute('aria-busy');
    if (res.status === 401) {
      sessionStorage.removeItem(KEY);
      return showLogin('The console refused this token (401). Enter a valid admin token.');
    }
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      main.replaceChildren();
      const p = document.createElement('p');
      p.className = 'warn';
      p.textContent = `${res.status}: ${body.message ?? body.code ?? 'request failed'}`;
      main.append(p);
      return;
    }
    main.innerHTML = await res.text();
    formatTimes(main);
    for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', path.startsWith(`/${a.dataset.nav}`));
    if (main.querySelector('[data-charts]')) drawCharts(main.querySelector('[data-charts]'));
    const refresh = main.querySelector('[data-refresh]');
    if (refresh) refreshTimer = setTimeout(() => load(path, { quiet: true }), Number(refresh.dataset.refresh));
  }

  // Forms of the fragments navigate (their fields become the route's query string).
  main.addEventListener('submit', (event) => {
    const form = event.target.closest('form[data-route]');
    if (!form) return;
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (typeof v === 'string' && v.trim() !== '') params.set(k, v.trim());
    location.hash = `#${form.dataset.route}${params.size > 0 ? `?${params}` : ''}`;
  });

  main.addEventListener('click', async (event) => {
    const button = event.target.closest('button[data-sync]');
    if (!button) return;
    button.disabled = true;
    const full = button.dataset.full === 'true';
    const res = await fetch(`/v1/profiles/${encodeURIComponent(button.dataset.sync)}/sync`, {
      method: 'POST',
      headers: headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ full }),
    });
    button.disabled = false;
    const body = await res.json().catch(() => ({}));
    if (res.status === 202) {
      showFlash(`${full ? 'Full sync' : 'Sync'} requested: run ${body.runId}${body.coalesced ? ' (joined a pending request)' : ''}.`);
      location.hash = `#/runs/${encodeURIComponent(body.runId)}`;
    } else showFlash(`Sync refused (${res.status}): ${body.message ?? body.code ?? ''}`, 'error');
  });

  document.getElementById('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    showLogin();
  });

  async function drawCharts(container) {
    const res = await fetch(`/v1/charts?hours=${container.dataset.charts}`, { headers: headers() });
    if (!res.ok || typeof uPlot === 'undefined') return;
    const data = await res.json();
    const width = Math.max(320, container.clientWidth - 24);
    const opts = (series, extra = {}) => ({
      width,
      height: 180,
      scales: { x: { time: true, range: [Date.parse(data.from) / 1000, Date.parse(data.to) / 1000] } },
      series: [{}, ...series],
      axes: [{}, { size: 60 }],
      legend: { show: true },
      ...extra,
    });
    const draw = (id, options, columns) => {
      const el = document.getElementById(id);
      el.replaceChildren();
      if (columns[0].length === 0) {
        el.textContent = 'No data in this window yet.';
        el.className = 'chart empty';
        return;
      }
      new uPlot(options, columns, el);
    };
    draw(
      'chart-runs',
      opts([{ label: 'run duration (s)', stroke: '#3056d3', width: 0, points: { show: true, size: 7, fill: '#3056d3' } }]),
      [data.runs.map((r) => r.startedAt / 1000), data.runs.map((r) => r.durationMs / 1000)],
    );
    draw('chart-applied', opts([{ label: 'changes / min', stroke: '#1f8a4c', fill: 'rgba(31,138,76,0.15)' }]), [
      data.appliedPerMinute.map((p) => p.minute / 1000),
      data.appliedPerMinute.map((p) => p.count),
    ]);
    draw(
      'chart-lag',
      opts([
        { label: 'lag (records)', stroke: '#c0392b' },
        { label: 'outbox backlog', stroke: '#8e44ad' },
      ]),
      [data.lag.map((s) => s.at / 1000), data.lag.map((s) => s.lag), data.lag.map((s) => s.outbox)],
    );
  }

  window.addEventListener('hashchange', () => {
    flash.hidden = !location.hash.startsWith('#/runs/');
    load(currentPath());
  });
  if (token()) whoami();
  load(currentPath());
})();
