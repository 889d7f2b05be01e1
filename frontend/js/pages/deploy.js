// deploy.js: deploy an image — a ReplicationController named NAME
// (selector run=NAME) and, when ports are given, a Service of that name
// (and, unless unticked, a Route to it, so it has a URL).
import { get, post, paths } from '../api.js';
import { h, link } from '../ui/dom.js';
import { pageHeader, empty } from '../ui/layout.js';
import { field, formAlert, clearErrors, showAPIError, setFieldError } from '../ui/forms.js';
import { kvRows } from '../ui/kvrows.js';
import { projectAccess, session } from '../ui/session.js';
import { toast } from '../ui/toast.js';
import { navigate, to } from '../router.js';
import { Page, define } from '../ui/page.js';

const C0 = 'spec.template.spec.containers[0]';

/** words splits a command line, honouring '…' and "…" quoting. */
export function words(s) {
  const out = [];
  const re = /"((?:\\.|[^"\\])*)"|'([^']*)'|(\S+)/g;
  let m;
  let cur = null;
  let last = -1;
  while ((m = re.exec(s))) {
    const part = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] !== undefined ? m[2] : m[3];
    if (cur !== null && m.index === last) cur += part;
    else { if (cur !== null) out.push(cur); cur = part; }
    last = re.lastIndex;
  }
  if (cur !== null) out.push(cur);
  return out;
}

/** parsePorts reads "8080, 53/udp" into container ports, or throws. */
export function parsePorts(s) {
  const ports = [];
  for (const part of s.split(/[\s,]+/).filter(Boolean)) {
    const m = part.match(/^(\d+)(?:\/(tcp|udp|sctp))?$/i);
    const n = m ? Number(m[1]) : NaN;
    if (!m || n < 1 || n > 65535) throw new Error(`"${part}" is not a port: use a number from 1 to 65535, optionally /udp`);
    ports.push({ containerPort: n, protocol: (m[2] || 'TCP').toUpperCase() });
  }
  return ports;
}

class DeployPage extends Page {
  async render() {
    const ns = this.getAttribute('namespace');
    this.ns = ns;
    const access = await projectAccess(ns);
    this.title('Deploy', ns);
    const header = pageHeader('Deploy an image', {
      crumbs: [[to.projects(), 'Projects'], [to.project(ns), ns], [to.deploy(ns), 'Deploy']],
      sub: 'Berth starts a replication controller that keeps the pods running, and a service when you give ports.',
    });
    if (!access.canEdit) {
      this.replaceChildren(header, empty('You can only view this project',
        `Your role in ${ns} is "${access.role}". Ask a project admin for the edit role to deploy.`,
        link(to.project(ns), { class: 'btn' }, 'Back to the overview')));
      return;
    }

    const name = h('input', { id: 'deploy-name', type: 'text', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'web', class: 'mono' });
    const image = h('input', { id: 'deploy-image', type: 'text', autocomplete: 'off', spellcheck: 'false', required: true, list: 'deploy-images', placeholder: 'berth-examples/hello:latest', class: 'mono' });
    const images = h('datalist', { id: 'deploy-images' });
    const replicas = h('input', { id: 'deploy-replicas', type: 'number', min: '0', max: '1000', step: '1', value: '1', inputmode: 'numeric' });
    const port = h('input', { id: 'deploy-port', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '8080', class: 'mono', inputmode: 'numeric' });
    const route = h('input', { id: 'deploy-route', type: 'checkbox', checked: true, 'data-test': 'deploy-route' });
    const command = h('input', { id: 'deploy-command', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'sh -c "echo hello; sleep 3600"', class: 'mono' });
    const cpu = h('input', { id: 'deploy-cpu', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '500m', class: 'mono' });
    const memory = h('input', { id: 'deploy-memory', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '128Mi', class: 'mono' });
    const env = kvRows({ legend: 'Environment variables', keyLabel: 'Variable name', valueLabel: 'Variable value', addLabel: 'Add variable', test: 'env', errorFor: `${C0}.env`, keyPlaceholder: 'NAME', valuePlaceholder: 'value' });
    const labels = kvRows({ legend: 'Labels', keyLabel: 'Label key', valueLabel: 'Label value', addLabel: 'Add label', test: 'label', errorFor: 'metadata.labels', also: ['spec.template.metadata.labels'], hint: 'Added to the controller and its pods, beside run=NAME.', keyPlaceholder: 'tier', valuePlaceholder: 'frontend' });
    // Every key of the chosen config maps and secrets becomes a variable (envFrom).
    const envFrom = h('fieldset', { class: 'kv', 'data-test': 'env-from' },
      h('legend', null, 'Environment from config maps and secrets'),
      h('div', { class: 'field-hint' }, 'None in this project yet.'));
    Promise.all([get(paths.configMaps(ns)), get(paths.secrets(ns))]).then(([cms, secrets]) => {
      const boxes = [...(cms.items || []).map((o) => ['ConfigMap', o.metadata.name]), ...(secrets.items || []).map((o) => ['Secret', o.metadata.name])]
        .map(([kind, n]) => h('label', { class: 'check' },
          h('input', { type: 'checkbox', 'data-test': 'env-from-source', 'data-kind': kind, 'data-name': n }),
          ` ${kind === 'Secret' ? 'secret' : 'config map'} ${n}`));
      if (boxes.length) envFrom.replaceChildren(envFrom.firstChild, ...boxes.map((b) => h('div', null, b)));
    }, () => { /* the variables above still work */ });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'deploy-submit' }, 'Deploy');
    const imageHint = h('span', null, 'An image on the nodes, as repository:tag.');

    const form = h('form', { class: 'deploy-form', novalidate: true, 'aria-label': 'Deploy an image' },
      formAlert(),
      h('section', { class: 'card form-card' },
        h('h2', { class: 'card-title' }, 'Application'),
        h('div', { class: 'form-grid' },
          field('Name', name, { errorFor: 'metadata.name', also: [`${C0}.name`, 'spec.selector', 'spec.template.metadata.name'], hint: 'Lower-case letters, digits and "-". Names the controller, its pods and the service.' }),
          field('Image', image, { errorFor: `${C0}.image`, also: ['spec.containers[0].image', `${C0}.imagePullPolicy`], hint: imageHint }),
          field('Command', command, { errorFor: `${C0}.command`, also: [`${C0}.args`], hint: 'Optional: replaces the image\'s entrypoint.', cls: 'span-2' }),
          images)),
      h('section', { class: 'card form-card' },
        h('h2', { class: 'card-title' }, 'Scale and network'),
        h('div', { class: 'form-grid' },
          field('Replicas', replicas, { errorFor: 'spec.replicas', hint: 'How many pods to keep running.' }),
          field('Ports', port, { errorFor: `${C0}.ports`, also: ['spec.ports'], hint: 'Optional, e.g. 8080 or 8080, 53/udp. A service named after the app forwards each port to the pods.' }),
          h('label', { class: 'check span-2' }, route, ' With a TCP port, make it reachable from outside through the router (a route with a URL)'))),
      h('section', { class: 'card form-card' },
        h('h2', { class: 'card-title' }, 'Environment and labels'),
        h('div', { class: 'form-grid' }, env.el, labels.el, envFrom)),
      h('section', { class: 'card form-card' },
        h('h2', { class: 'card-title' }, 'Resource limits'),
        h('div', { class: 'form-grid' },
          field('CPU limit', cpu, { errorFor: `${C0}.resources.limits.cpu`, also: [`${C0}.resources`], hint: 'Optional, in cores: 0.5 or 500m.' }),
          field('Memory limit', memory, { errorFor: `${C0}.resources.limits.memory`, hint: 'Optional: 128Mi, 1Gi.' }))),
      h('div', { class: 'form-actions' }, submit, link(to.project(ns), { class: 'btn' }, 'Cancel')));
    form.addEventListener('submit', (ev) => { ev.preventDefault(); this.submit(form, submit, { name, image, replicas, port, command, cpu, memory, env, labels, envFrom, route }); });
    this.replaceChildren(header, form);
    name.focus();

    if (session.clusterAdmin) {
      get(paths.nodes()).then((list) => {
        const names = new Set();
        for (const n of list.items || []) {
          for (const img of n.status?.images || []) {
            for (const nm of img.names || []) if (!nm.includes('<none>') && !nm.includes('@sha256:')) names.add(nm);
          }
        }
        const sorted = [...names].sort();
        images.replaceChildren(...sorted.map((nm) => h('option', { value: nm })));
        if (sorted.length) imageHint.textContent = `Pick one of the ${sorted.length} images on the nodes, or type repository:tag.`;
      }, () => { /* free text it is */ });
    }
  }

  async submit(form, submit, f) {
    clearErrors(form);
    const name = f.name.value.trim();
    const image = f.image.value.trim();
    let bad = false;
    let ports = [];
    try { ports = parsePorts(f.port.value); } catch (err) { setFieldError(form, `${C0}.ports`, err.message); bad = true; }
    const replicas = f.replicas.value === '' ? 1 : Number(f.replicas.value);
    if (!Number.isInteger(replicas) || replicas < 0) { setFieldError(form, 'spec.replicas', 'Enter a whole number, 0 or more.'); bad = true; }
    if (bad) { form.querySelector('[aria-invalid=true]')?.focus(); return; }

    const userLabels = Object.fromEntries(f.labels.values());
    const podLabels = { ...userLabels, run: name };
    // Images come from the nodes (no registry may be reachable): pull only when missing.
    const container = { name, image, imagePullPolicy: 'IfNotPresent' };
    const cmd = f.command.value.trim();
    if (cmd) container.command = words(cmd);
    if (ports.length) container.ports = ports;
    const env = f.env.values().map(([k, v]) => ({ name: k, value: v }));
    if (env.length) container.env = env;
    const from = [...f.envFrom.querySelectorAll('[data-test=env-from-source]:checked')].map((b) => (b.dataset.kind === 'Secret'
      ? { secretRef: { name: b.dataset.name } } : { configMapRef: { name: b.dataset.name } }));
    if (from.length) container.envFrom = from;
    const limits = {};
    if (f.cpu.value.trim()) limits.cpu = f.cpu.value.trim();
    if (f.memory.value.trim()) limits.memory = f.memory.value.trim();
    if (Object.keys(limits).length) container.resources = { limits };
    const rc = {
      apiVersion: 'v1', kind: 'ReplicationController',
      metadata: { name, labels: podLabels },
      spec: {
        replicas,
        selector: { run: name },
        template: { metadata: { labels: podLabels }, spec: { containers: [container] } },
      },
    };
    submit.disabled = true;
    submit.textContent = 'Deploying…';
    try {
      await post(paths.rcs(this.ns), rc);
    } catch (err) {
      showAPIError(form, err);
      submit.disabled = false;
      submit.textContent = 'Deploy';
      return;
    }
    if (ports.length) {
      const svc = {
        apiVersion: 'v1', kind: 'Service',
        metadata: { name, labels: { run: name } },
        spec: {
          selector: { run: name },
          ports: ports.map((p) => ({
            ...(ports.length > 1 ? { name: `${p.protocol.toLowerCase()}-${p.containerPort}` } : {}),
            port: p.containerPort, targetPort: p.containerPort, protocol: p.protocol,
          })),
        },
      };
      try {
        await post(paths.services(this.ns), svc);
      } catch (err) {
        toast(`${name} is deploying, but its service was not created: ${err.message}`, 'bad', 8000);
        navigate(to.project(this.ns));
        return;
      }
      if (f.route.checked && ports.some((p) => p.protocol === 'TCP')) {
        try {
          const r = await post(paths.routes(this.ns), { apiVersion: 'berth.dev/v1', kind: 'Route', metadata: { name }, spec: { to: { kind: 'Service', name } } });
          toast(`Deploying ${name}, at ${r.status?.url || r.spec.host}`);
        } catch (err) {
          toast(`${name} is deploying, but its route was not created: ${err.message}`, 'bad', 8000);
        }
        navigate(to.project(this.ns));
        return;
      }
    }
    toast(`Deploying ${name}`);
    navigate(to.project(this.ns));
  }
}
define('berth-deploy-page', DeployPage);
