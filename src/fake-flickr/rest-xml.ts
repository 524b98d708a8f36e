/**
 * Flickr's default response format (`format=rest`, or no format at all): XML. Flickr's JSON is a
 * mechanical translation of that XML, so the fake builds its JSON bodies and translates them back:
 * a scalar property is an attribute, `{"_content": "…"}` is an element's text, an object is a child
 * element and an array is that element repeated. A failure is `<err code="…" msg="…" />`.
 * Python's flickrapi asks for XML where it parses into an ElementTree (`token_valid()` sends
 * `flickr.auth.oauth.checkToken` with `format=rest`).
 */
import type { Json } from './records.js'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
}

function element(name: string, value: unknown, indent: string): string {
  if (Array.isArray(value)) return value.map((v) => element(name, v, indent)).join('')
  if (isScalar(value)) return `${indent}<${name}>${escapeXml(String(value))}</${name}>\n`
  if (value === null || typeof value !== 'object') return ''
  const attrs: string[] = []
  const children: string[] = []
  let text: string | undefined
  for (const [k, v] of Object.entries(value as Json)) {
    if (k === '_content') text = isScalar(v) ? String(v) : ''
    else if (isScalar(v)) attrs.push(` ${k}="${escapeXml(String(v))}"`)
    else children.push(element(k, v, `${indent}\t`))
  }
  const open = `${indent}<${name}${attrs.join('')}`
  if (children.length === 0 && text === undefined) return `${open} />\n`
  if (children.length === 0) return `${open}>${escapeXml(text ?? '')}</${name}>\n`
  return `${open}>\n${children.join('')}${indent}</${name}>\n`
}

/** The XML Flickr sends for a JSON body `{stat: 'ok', …}` or `{stat: 'fail', code, message}`. */
export function restXml(body: Json): string {
  const head = '<?xml version="1.0" encoding="utf-8" ?>\n'
  if (body.stat === 'fail') {
    return `${head}<rsp stat="fail">\n\t<err code="${escapeXml(String(body.code))}" msg="${escapeXml(String(body.message))}" />\n</rsp>\n`
  }
  const children = Object.entries(body).filter(([k]) => k !== 'stat').map(([k, v]) => element(k, v, '\t'))
  return `${head}<rsp stat="ok">\n${children.join('')}</rsp>\n`
}
