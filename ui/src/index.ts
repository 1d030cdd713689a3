// The JupyterLab extension: the Gantry panel in the left sidebar, talking
// to `gantry serve`, which jupyter-server-proxy starts and reaches at
// <base url>/gantry/ (see install/proxy.go).

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Clipboard, Dialog, showDialog } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { Api } from './api';
import { GantryPanel } from './panel';

const icon = new LabIcon({
  name: 'gantry:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M3 4h18v3H3zM5 7h2v13H5zM17 7h2v13h-2zM10 8h4v5h-4zM11 13h2v3h-2z"/></g></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'gantry-jupyterlab:panel',
  description: 'Compute targets, runs and models of the Gantry workspace.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    const settings = ServerConnection.makeSettings();
    const base = URLExt.join(settings.baseUrl, 'gantry');
    const api = new Api((path, init) => ServerConnection.makeRequest(URLExt.join(base, path), init ?? {}, settings));
    api.url = path => URLExt.join(base, path);
    const widget = new PanelWidget();
    widget.id = 'gantry-panel';
    widget.title.icon = icon;
    widget.title.caption = 'Gantry: compute, runs, models';
    widget.addClass('jp-gantry');
    const panel = new GantryPanel(widget.node, api, {
      confirm: async (title, body, action) =>
        (await showDialog({ title, body, buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: action })] })).button.accept,
      copy: async text => Clipboard.copyToSystem(text)
    });
    // Started when first shown, so a lab that never opens it costs nothing.
    widget.onShown = () => void panel.start();
    widget.disposed.connect(() => panel.dispose());
    app.shell.add(widget, 'left', { rank: 600 });
  }
};

/** The sidebar widget; it starts the panel the first time it is shown. */
class PanelWidget extends Widget {
  onShown: (() => void) | null = null;

  protected onAfterShow(): void {
    const f = this.onShown;
    this.onShown = null;
    f?.();
  }
}

export default plugin;
