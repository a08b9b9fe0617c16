// SPDX-License-Identifier: MIT
/**
 * @module html-tree
 * The parse5 tree the server renders on (`render-html.ts`, `render-bindings.ts`): parsing a
 * page or a fragment, and the few DOM operations parse5's tree lacks (attributes by name,
 * text content, a deep clone, the `<head>`), written once so the renderers read like DOM code.
 */
import { defaultTreeAdapter, html as spec, parse, parseFragment } from 'parse5';
import type { DefaultTreeAdapterMap } from 'parse5';

export type Element = DefaultTreeAdapterMap['element'];
export type Template = DefaultTreeAdapterMap['template'];
export type ParentNode = DefaultTreeAdapterMap['parentNode'];
export type ChildNode = DefaultTreeAdapterMap['childNode'];
export type TextNode = DefaultTreeAdapterMap['textNode'];
export type Document = DefaultTreeAdapterMap['document'];
export type DocumentFragment = DefaultTreeAdapterMap['documentFragment'];

/** ASCII whitespace, as HTML splits class lists and option text. */
export const ASCII_WHITESPACE = /[\t\n\f\r ]+/;

/**
 * Parses `html` as a document when it has any document-level markup, else as a fragment.
 * parse5's document parser invents `<html>`, `<head>` and `<body>` for a fragment (and would
 * move a leading `<template>` into `<head>`); with location info on, only elements that were
 * really in the source carry a location, which tells the two apart without guessing at text.
 */
export function parseInput(html: string): Document | DocumentFragment {
  const doc = parse(html, { sourceCodeLocationInfo: true });
  for (const node of doc.childNodes) {
    if (node.nodeName === '#documentType') return doc;
    if (isElement(node) && node.tagName === 'html') {
      if (node.sourceCodeLocation) return doc;
      if (node.childNodes.some((child) => isElement(child) && child.sourceCodeLocation)) return doc;
    }
  }
  return parseFragment(html);
}

/** The `<head>` of `doc`, created (with `<html>`) when the document has none. */
export function headOf(doc: Document): Element {
  let htmlEl = doc.childNodes.find((n): n is Element => isElement(n) && n.tagName === 'html');
  if (!htmlEl) {
    htmlEl = defaultTreeAdapter.createElement('html', spec.NS.HTML, []);
    defaultTreeAdapter.appendChild(doc, htmlEl);
  }
  let head = htmlEl.childNodes.find((n): n is Element => isElement(n) && n.tagName === 'head');
  if (!head) {
    head = defaultTreeAdapter.createElement('head', spec.NS.HTML, []);
    const first = htmlEl.childNodes[0];
    if (first) defaultTreeAdapter.insertBefore(htmlEl, head, first);
    else defaultTreeAdapter.appendChild(htmlEl, head);
  }
  return head;
}

/** Whether `node` is an element. */
export function isElement(node: ChildNode | ParentNode): node is Element {
  return 'tagName' in node;
}

/** Whether `node` is a text node. */
export function isText(node: ChildNode): node is TextNode {
  return node.nodeName === '#text';
}

/** Whether `el` is in the HTML namespace (not SVG or MathML). */
export function isHtml(el: Element): boolean {
  return el.namespaceURI === spec.NS.HTML;
}

/** Whether `node` is an HTML `<template>` (whose content is a separate fragment). */
export function isTemplate(node: ChildNode): node is Template {
  return isElement(node) && isHtml(node) && node.tagName === 'template';
}

/** The value of attribute `name` (no namespace), or undefined. */
export function getAttr(el: Element, name: string): string | undefined {
  return el.attrs.find((a) => a.name === name && !a.namespace)?.value;
}

/** Sets attribute `name` (no namespace) to `value`. */
export function setAttr(el: Element, name: string, value: string): void {
  const existing = el.attrs.find((a) => a.name === name && !a.namespace);
  if (existing) existing.value = value;
  else el.attrs.push({ name, value });
}

/** Removes attribute `name` (no namespace), if present. */
export function removeAttr(el: Element, name: string): void {
  el.attrs = el.attrs.filter((a) => a.name !== name || a.namespace);
}

/** The first child of `el` that is an element. */
export function firstElementChild(el: Element): Element | undefined {
  return el.childNodes.find(isElement);
}

/** Replaces the children of `el` with one text node (as `el.textContent = text`). */
export function replaceWithText(el: Element, text: string): void {
  for (const child of [...el.childNodes]) defaultTreeAdapter.detachNode(child);
  defaultTreeAdapter.appendChild(el, defaultTreeAdapter.createTextNode(text));
}

/** The descendant elements of `parent` named `tagName`, in document order. */
export function* descendants(parent: Element, tagName: string): Generator<Element> {
  for (const child of parent.childNodes) {
    if (!isElement(child)) continue;
    if (child.tagName === tagName) yield child;
    yield* descendants(child, tagName);
  }
}

/** The text of an element's descendants, without script text (as the HTML `option.text` getter). */
export function textContent(el: Element): string {
  let text = '';
  for (const child of el.childNodes) {
    if (isText(child)) text += child.value;
    else if (isElement(child) && child.tagName !== 'script') text += textContent(child);
  }
  return text;
}

/** A deep copy of a node (parse5 has no cloneNode), template content included. */
export function cloneNode(node: ChildNode): ChildNode {
  if (isText(node)) return defaultTreeAdapter.createTextNode(node.value);
  if (!isElement(node)) {
    // Template content holds no doctype; only comments are left.
    return node.nodeName === '#comment' ? defaultTreeAdapter.createCommentNode(node.data) : { ...node, parentNode: null };
  }
  const copy = defaultTreeAdapter.createElement(node.tagName, node.namespaceURI, node.attrs.map((a) => ({ ...a })));
  for (const child of node.childNodes) defaultTreeAdapter.appendChild(copy, cloneNode(child));
  if (isTemplate(node)) {
    const content = defaultTreeAdapter.createDocumentFragment();
    for (const child of node.content.childNodes) defaultTreeAdapter.appendChild(content, cloneNode(child));
    defaultTreeAdapter.setTemplateContent(copy as Template, content);
  }
  return copy;
}
