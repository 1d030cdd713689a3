// The page of `gantry ui`: the panel, full page, talking to the server
// that served it (the token is in a cookie the server set).

import '../style/base.css';
import 'uplot/dist/uPlot.min.css';

import { Api } from './api';
import { GantryPanel } from './panel';

const api = new Api((path, init) => fetch(path, { credentials: 'same-origin', ...init }));
const panel = new GantryPanel(document.getElementById('gantry-root')!, api, {
  confirm: async (title, body) => window.confirm(`${title}\n\n${body}`),
  copy: text => navigator.clipboard.writeText(text)
});
void panel.start();
(window as any).gantryPanel = panel;
