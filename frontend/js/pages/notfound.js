// notfound.js: a route the console does not know.
import { h, link } from '../ui/dom.js';
import { Page, define } from '../ui/page.js';

class NotFoundPage extends Page {
  async render() {
    this.title('Not found');
    this.replaceChildren(h('section', { class: 'error-view', 'data-test': 'not-found' },
      h('h1', null, 'Page not found'),
      h('p', { class: 'error-message' }, 'There is no page at ', h('code', null, '#' + (this.getAttribute('path') || '')), '.'),
      h('div', { class: 'error-actions' }, link('/projects', { class: 'btn btn-primary' }, 'Go to projects'))));
  }
}
define('berth-notfound-page', NotFoundPage);
