// Forms of the live page, for crawler.forms.live (the body of a function run by
// WebDriver's execute_script, or composed with live_links.js into one call).
//
// Reads every <form> of the top document with the browser's own form owners
// (el.form: the form= attribute, nesting, and the parser's association of
// controls with a <form> that a <table> foster-parented), and each associated
// control's current state: value as the browser holds it (sanitized, or what
// a script or the user set), checkedness, selectedness, disabledness
// (:disabled, fieldsets and their first legend included).
//
// A page can clobber form and document properties with named controls
// (<input name="action">, <form name="querySelectorAll">): the prototypes'
// own methods and getters are used on forms and the document.
//
// Returns a JSON string: {forms: [...], charset: document.characterSet}; see
// crawler/forms/live.py for the fields.
const MAX_FORMS = 200;
const MAX_CONTROLS = 2000;
const MAX_OPTIONS = 500;
const MAX_TEXT = 200;
const getAttr = Element.prototype.getAttribute;
const hasAttr = Element.prototype.hasAttribute;
const query = Document.prototype.querySelectorAll;
const formAction = Object.getOwnPropertyDescriptor(HTMLFormElement.prototype, "action").get;

function attr(el, name) {
  return getAttr.call(el, name);
}

function collapse(text) {
  return (text || "").replace(/\s+/g, " ").trim().slice(0, MAX_TEXT);
}

function readOptions(select) {
  const options = [];
  for (const option of select.options) {
    if (options.length >= MAX_OPTIONS) break;
    const group = option.parentElement;
    const disabled = option.disabled || (group && group.tagName === "OPTGROUP" && group.disabled);
    options.push([option.value, collapse(option.label || option.text), option.selected, !!disabled]);
  }
  return options;
}

function suggestions(el) {
  const list = el.list;
  if (!list) return [];
  const values = [];
  for (const option of list.querySelectorAll("option")) {
    if (values.length >= MAX_OPTIONS) break;
    if (!option.disabled) values.push(option.value);
  }
  return values;
}

function readControl(el) {
  const tag = el.tagName.toLowerCase();
  let type = tag;
  if (tag === "input" || tag === "button") type = (el.type || "").toLowerCase();
  else if (tag === "select") type = "select";
  let text = "";
  if (tag === "button") text = el.textContent;
  else if (type === "submit") text = attr(el, "value") === null ? "Submit" : el.value;
  else if (type === "reset") text = attr(el, "value") === null ? "Reset" : el.value;
  else if (type === "image") text = attr(el, "alt") || "";
  const submitter = (tag === "button" && type === "submit") ||
    (tag === "input" && (type === "submit" || type === "image"));
  return {
    tag: tag,
    type: type,
    name: attr(el, "name") || "",
    value: type === "file" || tag === "select" ? "" : String(el.value),
    checked: (type === "checkbox" || type === "radio") ? !!el.checked : false,
    disabled: el.matches(":disabled"),
    options: tag === "select" ? readOptions(el) : [],
    multiple: tag === "select" ? !!el.multiple : false,
    suggestions: tag === "input" ? suggestions(el) : [],
    dirname: attr(el, "dirname") || "",
    required: hasAttr.call(el, "required"),
    min: attr(el, "min") || "",
    max: attr(el, "max") || "",
    step: attr(el, "step") || "",
    id: attr(el, "id") || "",
    autocomplete: attr(el, "autocomplete") || "",
    text: collapse(text),
    formaction: submitter && hasAttr.call(el, "formaction") ? el.formAction : null,
    formmethod: submitter ? attr(el, "formmethod") : null,
    formenctype: submitter ? attr(el, "formenctype") : null,
    formtarget: submitter ? attr(el, "formtarget") : null,
    formnovalidate: submitter ? hasAttr.call(el, "formnovalidate") : false,
  };
}

const forms = Array.from(query.call(document, "form")).slice(0, MAX_FORMS);
const position = new Map(forms.map((form, i) => [form, i]));
const owned = forms.map(() => []);
let truncated = false;
for (const el of query.call(document, "input, select, textarea, button")) {
  if (el.closest("datalist")) continue; // never submitted
  const owner = el.form;
  if (!owner || !position.has(owner)) continue;
  const controls = owned[position.get(owner)];
  if (controls.length >= MAX_CONTROLS) {
    truncated = true;
    continue;
  }
  controls.push(readControl(el));
}
const ids = new Map();
for (const el of query.call(document, "[id]")) {
  const id = attr(el, "id");
  ids.set(id, (ids.get(id) || 0) + 1);
}
const base = document.querySelector("base[target]");
return JSON.stringify({
  charset: document.characterSet,
  truncated: truncated,
  forms: forms.map((form, i) => {
    const id = attr(form, "id");
    const target = attr(form, "target");
    return {
      index: i,
      id: id && ids.get(id) === 1 ? id : null,
      action: formAction.call(form),
      method: attr(form, "method"),
      enctype: attr(form, "enctype"),
      target: target !== null ? target : (base ? attr(base, "target") : ""),
      acceptCharset: attr(form, "accept-charset"),
      novalidate: hasAttr.call(form, "novalidate"),
      controls: owned[i],
    };
  }),
});
