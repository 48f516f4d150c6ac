// "Trust notebook": the person vouches for the notebook's stored outputs, so their HTML is
// shown as is and their JavaScript runs (rich.js). As in Jupyter, every code cell is marked
// trusted and the notebook is signed: by the save (the server signs a notebook whose cells are
// all trusted) when there are unsaved changes, else by the contents API's trust endpoint.

import { contentsUrl, request } from "../../js/api.js";
import { confirmDialog, toast } from "../../js/dialogs.js";

export async function trustNotebook(app) {
  const notebook = app.notebook;
  if (notebook.trusted) {
    toast("This notebook is trusted already.");
    notebook.commandMode();
    return;
  }
  const ok = await confirmDialog({
    title: "Trust this notebook?",
    message: "A trusted notebook's outputs may run JavaScript in this page, with your login. "
      + "Trust it only if you know where it comes from, or have run it yourself.",
    confirmLabel: "Trust",
    danger: true,
  });
  if (!ok) {
    notebook.commandMode();
    return;
  }
  notebook.quietly(() => {
    for (const cell of notebook.cells) {
      if (cell.type !== "code" || cell.trusted) continue;
      cell.trusted = true;
      cell.outputs.trusted = true;
      cell.outputs.load(cell.outputs.toJSON()); // drawn again, scripts and all
    }
  });
  if (app.saver.dirty) await app.saver.save({ checkpoint: false });
  else await request("POST", `${contentsUrl(app.path)}/trust`);
  toast("The notebook is trusted.");
  notebook.commandMode();
}
