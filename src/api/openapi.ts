/**
 * `GET /openapi.json` (OpenAPI 3.1, generated from src/api/routes.ts) and `GET /docs` (the same document as
 * one HTML page with no external resources). Neither needs a key.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { ROUTES } from './routes';
import { Problem } from './schemas';

type OpenApiDocument = ReturnType<OpenAPIHono['getOpenAPI31Document']>;

let cached: OpenApiDocument | null = null;

/** The OpenAPI 3.1 document, built once per isolate from the route declarations. */
export function openApiDocument(): OpenApiDocument {
  if (cached) return cached;
  const app = new OpenAPIHono();
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key made by `npm run keys -- create`: `Authorization: Bearer cxr_…`.',
  });
  // The generic problem, for clients' types (each operation lists its own codes inline).
  app.openAPIRegistry.register('Problem', Problem);
  for (const route of ROUTES) app.openAPIRegistry.registerPath(route);
  cached = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'cxr-edge',
      version: '1',
      description:
        'Chest X-ray classification at the edge: calibrated probabilities for five findings, Grad-CAM explanations, and refusals of what the model cannot judge. ' +
        'A research artifact, not a medical device. Every error is application/problem+json with a stable `code`; an unknown path answers 404 `not_found`, a known path with another method 405 `method_not_allowed` (with `Allow`).',
    },
  });
  return cached;
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

interface Operation {
  summary?: string;
  description?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; description?: string }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { description: string; content?: Record<string, unknown> }>;
}

/** The document as one readable page: each operation, its parameters, body types and responses. */
function docsPage(doc: OpenApiDocument): string {
  const sections = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    Object.entries(item as Record<string, Operation>).map(([method, op]) => {
      const params = (op.parameters ?? []).map((p) => `<li><code>${escape(p.name)}</code> (${p.in}) ${escape(p.description ?? '')}</li>`).join('');
      const body = op.requestBody ? `<p>Body: ${Object.keys(op.requestBody.content).map((t) => `<code>${escape(t)}</code>`).join(', ')}</p>` : '';
      const responses = Object.entries(op.responses)
        .map(([status, r]) => `<tr><td>${status}</td><td>${Object.keys(r.content ?? {}).map((t) => `<code>${escape(t)}</code>`).join(' ')}</td><td>${escape(r.description)}</td></tr>`)
        .join('');
      return `<section><h2><span class="m">${method.toUpperCase()}</span> <code>${escape(path)}</code></h2>
<p><b>${escape(op.summary ?? '')}</b>${op.security?.length ? ' — needs <code>Authorization: Bearer</code>' : ''}</p>
${op.description ? `<p>${escape(op.description)}</p>` : ''}${params ? `<ul>${params}</ul>` : ''}${body}
<table><tr><th>status</th><th>body</th><th>when</th></tr>${responses}</table></section>`;
    }),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(doc.info.title)} API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b2733}code{background:#eef2f6;padding:0 .25em;border-radius:3px}
table{border-collapse:collapse;width:100%}td,th{border-top:1px solid #d9e0e7;padding:.3em .5em;text-align:left;vertical-align:top}.m{color:#0b6bcb}</style></head>
<body><h1>${escape(doc.info.title)} API</h1><p>${escape(doc.info.description ?? '')}</p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${doc.openapi}).</p>
${sections.join('\n')}</body></html>`;
}

/** The routes serving the document. */
export const openApi = new Hono<AppEnv>()
  .get('/openapi.json', (c) => c.json(openApiDocument()))
  .get('/docs', (c) => c.html(docsPage(openApiDocument())));
