// app.js: the Berth console shell — sidebar, sign-in state, the live
// connection indicator, and the router that mounts one page at a time.
//
// Stable selectors for browser tests (keep them when changing pages):
//   Shell        berth-app · #sidebar (nav) · #nav-toggle (phone menu) · #main
//                [data-test=nav-projects|nav-overview|nav-services|nav-config|nav-events|nav-members|nav-network|
//                 nav-usage|nav-nodes|nav-audit|nav-tokens|nav-password] · [data-test=signout]
//                [data-test=current-user] · [data-test=live-state] (text "Live",
//                "Connecting…", "Reconnecting…"; data-state=open|connecting|reconnecting|closed)
//                [data-test=state-unknown] (while the live connection is down: "State
//                unknown since TIME …", data-since=ISO time)
//   Sign in      #/login  #login-username #login-password #login-submit
//                [data-test=login-error] · [data-test=session-expired]
//   Projects     #/projects  [data-test=new-project] opens the form: #project-name
//                #project-display-name #project-description [data-test=create-project]
//                (on success the console goes to the new project's overview)
//                rows [data-test=project-row][data-project=NAME], links
//                [data-test=project-link], [data-test=delete-project][data-project=NAME]
//   Confirm      [data-test=confirm] (a <dialog>) #confirm-input (type the name)
//                [data-test=confirm-ok] [data-test=confirm-cancel]
//   Overview     #/projects/NS  [data-test=deploy] (absent for view members)
//                [data-test=role] · RC cards [data-test=rc][data-rc=NAME] with
//                [data-test=rc-replicas] ("2 / 3"), [data-test=scale-up]
//                [data-test=scale-down] [data-test=delete-rc] (each data-rc=NAME)
//                pod rows [data-test=pod-row][data-pod=NAME] holding
//                [data-test=pod-status] (phase text: Running, Pending, Succeeded,
//                Failed, Unknown, or Terminating), [data-test=pod-link],
//                [data-test=pod-logs] (→ pod page ?tab=logs), [data-test=delete-pod]
//                bare pods in [data-test=bare-pods]; services
//                [data-test=service-row][data-service=NAME] [data-test=service-address]
//                [data-test=delete-service]; [data-test=empty-overview]
//   Deploy       #/projects/NS/deploy  #deploy-name #deploy-image (list=deploy-images)
//                #deploy-replicas #deploy-port #deploy-command #deploy-cpu
//                #deploy-memory, env rows [data-test=env-add] → .kv-row inputs
//                [data-test=env-name] [data-test=env-value]; labels
//                [data-test=label-add] [data-test=label-key] [data-test=label-value]
//                [data-test=deploy-submit]; errors [data-error-for="metadata.name"],
//                [data-error-for="spec.template.spec.containers[0].image"], ...;
//                errors of no field: [data-test=form-error]
//   Members      #/projects/NS/members  #member-user #member-role
//                [data-test=add-member] rows [data-test=member-row][data-member=USER]
//                [data-test=member-role] (select) [data-test=remove-member]
//   Services     #/projects/NS/services  rows [data-test=service-row][data-service=NAME]
//                holding [data-test=service-type|service-cluster-ip|service-ports],
//                [data-test=endpoints-ready] ("3 ready, 1 not ready"), endpoints
//                [data-test=endpoint][data-ready=true|false][data-pod=NAME],
//                [data-test=delete-service] (absent for view members)
//   Config       #/projects/NS/config  #config-kind #config-name rows [data-test=config-key|
//                config-value], [data-test=save-config]; [data-test=config-row][data-kind=
//                ConfigMap|Secret][data-name=N] with reveal-config, edit-config, delete-config
//   Events       #/projects/NS/events  rows [data-test=event-row]
//   Network      #/projects/NS/network  [data-test=network-state] (data-kind=own
//                network|joined|global) [data-test=network-netid]
//                [data-test=network-joined][data-project=NAME] (links)
//                [data-test=network-isolation-off]; cluster admins:
//                #network-join-project (select) [data-test=network-join]
//                [data-test=network-make-global] [data-test=network-isolate]
//                (both confirm)
//   Usage        #/usage?from=&to=&project=&by=pod|user&metric=  #usage-from #usage-to
//                #usage-project #usage-by #usage-metric [data-test=usage-apply]
//                [data-test=usage-chart] (uPlot canvas) rows [data-test=usage-row]
//                [data-test=usage-total] [data-test=usage-csv] (CSV of the same report)
//   Nodes        #/nodes  [data-test=node][data-node=NAME] [data-test=node-status]
//                [data-test=node-hostimage] (the build it booted), [data-test=node-behind]
//                (when a newer build of its host image exists), [data-test=node-upgrade]
//                (button), [data-test=node-upgrade-state]
//   Host images  #/hostimages  [data-test=nav-hostimages] rows [data-test=hostimage-row]
//                [data-hostimage=NAME] [data-test=hostimage-link] [data-test=hostimage-build]
//                [data-test=hostimage-phase]; new definition [data-test=new-hostimage]
//                #hostimage-name #hostimage-template [data-test=create-hostimage]
//   Host image   #/hostimages/NAME?tab=builds|definition|revisions [data-test=tab-builds|
//                tab-definition|tab-revisions] [data-test=rebuild] [data-test=force-rebuild]
//                builds: rows [data-test=build-row][data-build=NAME] [data-test=build-phase]
//                [data-test=build-link] [data-test=build-compare] (checkboxes)
//                [data-test=compare] (diff of the two checked)
//                definition: files [data-test=file][data-file=PATH] (a marker
//                [data-test=file-problems] when the file has problems) #definition-editor
//                (the selected file's text) [data-test=add-file] #new-file-path
//                [data-test=delete-file] [data-test=save-definition] problems
//                [data-test=problem] (file: key: detail) [data-test=validity]
//                ("Valid", "N problems", "Checking…") [data-test=saved]
//                revisions: rows [data-test=revision-row][data-revision=N] [data-test=restore]
//   Build        #/hostimages/NAME/builds/BUILD  [data-test=build-phase] [data-test=build-status]
//                (key, value rows) [data-test=cancel-build] [data-test=diff-parent]
//                the log [data-test=build-log] in a log view (its text property: the log kept)
//   Diff         #/hostimages/NAME/diff?from=A&to=B  [data-test=diff-packages] rows
//                [data-test=package-added|package-removed|package-changed][data-package=NAME]
//                [data-test=diff-files] rows [data-test=file-added|file-modified|file-deleted]
//   Audit        #/audit?user=&namespace=&resource=  #audit-user #audit-namespace
//                #audit-resource [data-test=audit-filter] rows [data-test=audit-row]
//   Tokens       #/tokens  #token-name #token-ttl [data-test=create-token]
//                [data-test=token-secret] (shown once; input #token-value)
//                [data-test=copy] buttons, rows [data-test=token-row][data-token=NAME]
//                [data-test=revoke-token]
//   Password     #/password  [data-test=nav-password] #password-current #password-new
//                #password-again [data-test=change-password], done:
//                [data-test=password-changed]; cluster admins: #reset-user
//                #reset-password [data-test=reset-password] [data-test=password-reset];
//                errors [data-error-for=currentPassword|newPassword|againPassword]
//   Errors       [data-test=error-view] [data-test=error-message] · not found:
//                [data-test=not-found] · toasts [data-test=toasts] · a page whose
//                module failed to load: [data-page-load-failed=TAG] [data-test=error-retry]
//   Pod page     #/projects/NS/pods/NAME?tab=details|logs|terminal|changes
//                (<berth-pod-page namespace name tab>, pages/pod.js)

import { get, paths, logout, onUnauthorized } from './api.js';
import { onConnectionState, onSessionEnded } from './watch.js';
import { route, current, navigate, to } from './router.js';
import { h, icon, link, replace } from './ui/dom.js';
import { session, sessionEvents, loadSession, clearSession } from './ui/session.js';
import { errorView } from './ui/errorview.js';

const page = (file, tag, attrs) => ({ load: () => import(`./pages/${file}`), tag, attrs });
route('/', { ...page('projects.js', 'berth-projects-page'), redirect: '/projects' });
route('/login', { ...page('login.js', 'berth-login-page', (p, q) => ({ next: q.get('next') || '', expired: q.get('expired') || '' })), public: true });
route('/projects', { ...page('projects.js', 'berth-projects-page'), section: 'projects' });
route('/projects/:ns', { ...page('overview.js', 'berth-overview-page', (p) => ({ namespace: p.ns })), section: 'overview' });
route('/projects/:ns/deploy', { ...page('deploy.js', 'berth-deploy-page', (p) => ({ namespace: p.ns })), section: 'overview' });
route('/projects/:ns/members', { ...page('members.js', 'berth-members-page', (p) => ({ namespace: p.ns })), section: 'members' });
route('/projects/:ns/services', { ...page('services.js', 'berth-services-page', (p) => ({ namespace: p.ns })), section: 'services' });
route('/projects/:ns/config', { ...page('config.js', 'berth-config-page', (p) => ({ namespace: p.ns })), section: 'config' });
route('/projects/:ns/events', { ...page('events.js', 'berth-events-page', (p) => ({ namespace: p.ns })), section: 'events' });
route('/projects/:ns/network', { ...page('network.js', 'berth-network-page', (p) => ({ namespace: p.ns })), section: 'network' });
route('/projects/:ns/pods/:name', {
  ...page('pod.js', 'berth-pod-page', (p, q) => ({ namespace: p.ns, name: p.name, tab: q.get('tab') || 'details' })),
  section: 'overview',
  sameAs: (el, attrs) => el.getAttribute('namespace') === attrs.namespace && el.getAttribute('name') === attrs.name,
});
route('/usage', { ...page('usage.js', 'berth-usage-page', (p, q) => ({ query: q.toString() })), section: 'usage' });
route('/nodes', { ...page('nodes.js', 'berth-nodes-page'), section: 'nodes' });
route('/hostimages', { ...page('hostimages.js', 'berth-hostimages-page'), section: 'hostimages' });
route('/hostimages/:name', {
  ...page('hostimage.js', 'berth-hostimage-page', (p, q) => ({ name: p.name, tab: q.get('tab') || 'builds' })),
  section: 'hostimages',
  sameAs: (el, attrs) => el.getAttribute('name') === attrs.name,
});
route('/hostimages/:name/builds/:build', { ...page('hostimagebuild.js', 'berth-build-page', (p) => ({ image: p.name, build: p.build })), section: 'hostimages' });
route('/hostimages/:name/diff', { ...page('hostimagediff.js', 'berth-build-diff-page', (p, q) => ({ image: p.name, from: q.get('from') || '', to: q.get('to') || '' })), section: 'hostimages' });
route('/audit', { ...page('audit.js', 'berth-audit-page', (p, q) => ({ query: q.toString() })), section: 'audit' });
route('/tokens', { ...page('tokens.js', 'berth-tokens-page'), section: 'tokens' });
route('/password', { ...page('password.js', 'berth-password-page'), section: 'password' });
const notFound = page('notfound.js', 'berth-notfound-page', (p, q, path) => ({ path }));

const LIVE_TEXT = { open: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', closed: 'Idle' };

class BerthApp extends HTMLElement {
  connectedCallback() {
    this.seq = 0;
    this.build();
    window.addEventListener('hashchange', () => this.show());
    sessionEvents.addEventListener('change', () => this.renderNav());
    onConnectionState((s, since) => {
      this.live.dataset.state = s;
      this.liveText.textContent = LIVE_TEXT[s] || s;
      this.live.title = s === 'open' ? 'Updates arrive live over a websocket' : since ? `No live updates since ${since.toLocaleTimeString()}; reconnecting` : '';
      this.since = since;
      this.renderStale();
      // A socket that keeps dropping may mean the session ended: ask once in
      // a while (a 401 brings up sign-in through onUnauthorized).
      if (s === 'reconnecting' && session.username && Date.now() - (this.lastCheck || 0) > 10000) {
        this.lastCheck = Date.now();
        get(paths.whoami()).catch(() => {});
      }
    });
    // The server ended the session (signed out elsewhere, the password
    // changed): asking who we are brings up sign-in through onUnauthorized.
    onSessionEnded(() => {
      if (!this.signingOut && session.username) get(paths.whoami()).catch(() => {});
    });
    onUnauthorized(() => {
      const cur = current();
      if (cur.route?.public) return;
      const wasSignedIn = !!session.username;
      clearSession();
      navigate(to.login(cur.full, wasSignedIn), { replace: true });
    });
    this.show();
  }

  build() {
    this.toggle = h('button', {
      id: 'nav-toggle', class: 'nav-toggle', type: 'button', 'aria-controls': 'sidebar', 'aria-expanded': 'false', 'aria-label': 'Menu',
      onclick: () => this.setMenu(this.getAttribute('data-menu') !== 'open'),
    }, icon('menu'));
    const brand = () => link('/projects', { class: 'brand', 'aria-label': 'Berth — projects' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'B'), h('span', null, 'Berth'));
    this.topbar = h('header', { class: 'topbar' }, brand(), this.toggle);
    this.navList = h('div', { class: 'nav-groups' });
    this.liveText = h('span', null, '');
    this.live = h('div', { class: 'live', 'data-test': 'live-state', 'data-state': 'closed', role: 'status' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), this.liveText);
    this.user = h('div', { class: 'user' });
    this.sidebar = h('nav', { id: 'sidebar', class: 'sidebar', 'aria-label': 'Main' },
      h('div', { class: 'sidebar-brand' }, brand()),
      this.navList,
      h('div', { class: 'sidebar-foot' }, this.live, this.user));
    this.main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
    this.stale = h('div', { class: 'banner banner-warn stale', role: 'status', 'data-test': 'state-unknown', hidden: true });
    const skip = h('button', { type: 'button', class: 'skip-link', onclick: () => this.main.focus() }, 'Skip to content');
    replace(this, skip, this.topbar, this.sidebar, this.main);
    this.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.getAttribute('data-menu') === 'open') { this.setMenu(false); this.toggle.focus(); }
    });
  }

  /** renderStale says, while the live connection is down, since when the page's state is unknown. */
  renderStale() {
    const since = this.since;
    clearTimeout(this.staleTimer);
    this.stale.hidden = !since;
    if (!since) return;
    const secs = Math.round((Date.now() - since) / 1000);
    this.stale.dataset.since = since.toISOString();
    this.stale.textContent = `State unknown since ${since.toLocaleTimeString()} (${secs} s ago): the live connection to Berth dropped and is reconnecting. ` +
      'What this page shows may have changed since; actions on it are disabled until it is back.';
    this.staleTimer = setTimeout(() => this.renderStale(), 1000);
  }

  setMenu(open) {
    this.setAttribute('data-menu', open ? 'open' : 'closed');
    this.toggle.setAttribute('aria-expanded', String(open));
  }

  renderNav() {
    const cur = this.cur || current();
    const sec = cur.route?.section;
    const ns = cur.params?.ns;
    const item = (path, iconName, label, key, active) => h('li', null,
      link(path, { class: 'nav-item', 'data-test': `nav-${key}`, 'aria-current': active ? 'page' : false }, icon(iconName), h('span', null, label)));
    const groups = [];
    groups.push(h('ul', { class: 'nav' }, item(to.projects(), 'projects', 'Projects', 'projects', sec === 'projects'),
      item(to.usage(), 'usage', 'Usage', 'usage', sec === 'usage')));
    if (ns) {
      groups.push(h('div', { class: 'nav-label', title: ns }, 'Project ', h('strong', null, ns)));
      groups.push(h('ul', { class: 'nav nav-sub' },
        item(to.project(ns), 'overview', 'Overview', 'overview', sec === 'overview'),
        item(to.services(ns), 'services', 'Services', 'services', sec === 'services'),
        item(to.config(ns), 'config', 'Config', 'config', sec === 'config'),
        item(to.events(ns), 'events', 'Events', 'events', sec === 'events'),
        item(to.members(ns), 'members', 'Members', 'members', sec === 'members'),
        item(to.network(ns), 'network', 'Network', 'network', sec === 'network')));
    }
    groups.push(h('div', { class: 'nav-label' }, 'Cluster'));
    groups.push(h('ul', { class: 'nav' },
      session.clusterAdmin ? item(to.nodes(), 'nodes', 'Nodes', 'nodes', sec === 'nodes') : null,
      item(to.hostImages(), 'hostimages', 'Host images', 'hostimages', sec === 'hostimages'),
      session.clusterAdmin ? item(to.audit(), 'audit', 'Audit log', 'audit', sec === 'audit') : null));
    groups.push(h('div', { class: 'nav-label' }, 'Account'));
    groups.push(h('ul', { class: 'nav' },
      item(to.tokens(), 'tokens', 'API tokens', 'tokens', sec === 'tokens'),
      item(to.password(), 'password', 'Password', 'password', sec === 'password')));
    replace(this.navList, groups);
    replace(this.user, session.username ? [
      h('span', { class: 'user-name', 'data-test': 'current-user', title: session.clusterAdmin ? 'cluster admin' : '' }, session.username),
      h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-test': 'signout', onclick: () => this.signOut() }, icon('logout'), h('span', null, 'Sign out')),
    ] : []);
  }

  async signOut() {
    this.signingOut = true;
    try { await logout(); } catch { /* the session may be gone already */ }
    clearSession();
    this.signingOut = false;
    navigate(to.login());
  }

  async show() {
    const seq = ++this.seq;
    const cur = current();
    this.cur = cur;
    this.setMenu(false);
    if (cur.route?.redirect) { navigate(cur.route.redirect, { replace: true }); return; }
    const isPublic = cur.route?.public;
    this.dataset.layout = isPublic ? 'bare' : 'shell';
    if (!isPublic && !session.username) {
      // Without the CSRF cookie there is no session: skip asking the server.
      if (!/(?:^|; )berth_csrf=/.test(document.cookie)) {
        navigate(to.login(cur.full === '/' || cur.full === '/projects' ? '' : cur.full), { replace: true });
        return;
      }
      try {
        await loadSession();
      } catch (err) {
        if (seq !== this.seq) return;
        if (err.code === 401) { navigate(to.login(cur.full === '/' ? '' : cur.full), { replace: true }); return; }
        this.mount(null, errorView(err, { retry: () => this.show() }));
        return;
      }
      if (seq !== this.seq) return;
    }
    this.renderNav();
    const spec = cur.route || notFound;
    const attrs = spec.attrs ? spec.attrs(cur.params, cur.query, cur.path) : {};
    const existing = this.main.lastElementChild;
    if (existing && existing.localName === spec.tag && spec.sameAs?.(existing, attrs)) {
      for (const [k, v] of Object.entries(attrs)) existing.setAttribute(k, v);
      return;
    }
    try {
      await spec.load();
      await customElements.whenDefined(spec.tag);
    } catch (err) {
      if (seq !== this.seq) return;

      const view = errorView({ message: `This page failed to load (${err.message}). Reload to try again.`, code: 0 }, { retry: () => location.reload() });
      view.dataset.pageLoadFailed = spec.tag;
      this.mount(null, view);
      return;
    }
    if (seq !== this.seq) return;
    const el = document.createElement(spec.tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    this.mount(cur, el);
  }

  mount(cur, el) {
    const hadPage = this.main.childElementCount > 1;
    replace(this.main, this.stale, el);
    window.scrollTo(0, 0);
    // Focus that was inside the old page went with it: move it to the new one.
    const a = document.activeElement;
    if (hadPage && (!a || a === document.body)) this.main.focus({ preventScroll: true });
  }
}

customElements.define('berth-app', BerthApp);
