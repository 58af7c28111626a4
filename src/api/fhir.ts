/**
 * The classification as FHIR R4 (`Accept: application/fhir+json`): a `collection` Bundle of one
 * DiagnosticReport (preliminary, radiology, LOINC 36554-4 "XR Chest Single view", the conclusion in words),
 * one Observation per class (the calibrated probability as valueQuantity, the operating point's decision as
 * interpretation) and a Device for the model. Every resource carries the AI-asserted security label of HL7's
 * AI Transparency guidance. No patient data is invented: a `subject` appears only when the client names one
 * (header `X-FHIR-Subject: Patient/123`), and it is echoed in this answer only, never logged or stored.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { problem } from '../http/problem';
import type { ModelInfo } from '../inference/model-info';
import type { ClassifyBody } from './schemas';

export const FHIR_JSON = 'application/fhir+json';
export const SUBJECT_HEADER = 'x-fhir-subject';

// HL7 AI Transparency on FHIR: "Artificial Intelligence asserted".
const AI_ASSERTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST', display: 'Artificial Intelligence asserted' };
const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const CLASS_SYSTEM = 'urn:cxr-edge:class';
// DiagnosticReport.subject and Observation.subject may reference these (R4), by a FHIR id.
const SUBJECT = /^(Patient|Group|Device|Location)\/[A-Za-z0-9\-.]{1,64}$/;

/**
 * Whether the request asks for FHIR, and the subject it names. Checked before any work.
 * @throws problem 400 invalid_parameter for a subject that is not a relative reference `Type/id` (not echoed)
 */
export function fhirRequest(c: Context<AppEnv>): { subject: string | undefined } | null {
  if (!(c.req.header('accept') ?? '').toLowerCase().includes(FHIR_JSON)) return null;
  const subject = c.req.header(SUBJECT_HEADER);
  if (subject !== undefined && !SUBJECT.test(subject)) {
    throw problem('invalid_parameter', 'X-FHIR-Subject must be a relative reference to a Patient, Group, Device or Location, such as "Patient/123".');
  }
  return { subject };
}

/** The FHIR answer. */
export function fhirResponse(c: Context<AppEnv>, info: ModelInfo, body: ClassifyBody, subject: string | undefined): Response {
  return c.body(JSON.stringify(fhirBundle(info, body, subject)), 200, { 'content-type': FHIR_JSON });
}

const percent = (p: number) => `${(100 * p).toFixed(1)} %`;

/**
 * Builds the Bundle from the classification body the JSON answer would have been.
 * @param subject a relative reference the client sent (validated), or undefined
 * @param now the time of the analysis (the image's own acquisition time is never read)
 */
export function fhirBundle(info: ModelInfo, body: ClassifyBody, subject: string | undefined, now = new Date()) {
  const id = () => crypto.randomUUID();
  const meta = { security: [AI_ASSERTED] };
  const instant = now.toISOString();
  const deviceUrl = `urn:uuid:${id()}`;
  const subjectRef = subject ? { subject: { reference: subject } } : {};
  const decision = body.decision;

  const observations = info.classes.map((name) => {
    const p = body.probabilities[name];
    const positive = decision?.positive[name];
    return {
      fullUrl: `urn:uuid:${id()}`,
      resource: {
        resourceType: 'Observation',
        meta,
        status: 'preliminary',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'imaging', display: 'Imaging' }] }],
        code: { coding: [{ system: CLASS_SYSTEM, code: name, display: name }], text: `AI-estimated probability of ${name}` },
        ...subjectRef,
        effectiveDateTime: instant,
        issued: instant,
        valueQuantity: { value: Math.round(p * 1e6) / 1e6, unit: 'probability', system: 'http://unitsofmeasure.org', code: '1' },
        ...(decision && {
          interpretation: [
            {
              coding: [{ system: INTERPRETATION, code: positive ? 'POS' : 'NEG', display: positive ? 'Positive' : 'Negative' }],
              text: `${positive ? 'Positive' : 'Negative'} at the ${decision.operatingPoint} operating point (threshold ${decision.thresholds[name].toFixed(4)})`,
            },
          ],
        }),
        method: { text: `Calibrated probability of ${info.name} ${info.version}; a research model, not a medical device` },
        device: { reference: deviceUrl },
      },
    };
  });

  const top = body.prediction;
  const conclusion = [
    `AI-estimated, preliminary, by a research model that is not a medical device.`,
    decision
      ? `Positive at the ${decision.operatingPoint} operating point: ${decision.positives.length ? decision.positives.join(', ') : 'none'}.`
      : '',
    `Most probable: ${top.label} (${percent(top.probability)}).`,
    ...(body.abstain ? ['The model abstains:', ...(body.abstainReasons ?? [])] : []),
  ]
    .filter(Boolean)
    .join(' ');

  const report = {
    fullUrl: `urn:uuid:${id()}`,
    resource: {
      resourceType: 'DiagnosticReport',
      meta,
      status: 'preliminary',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD', display: 'Radiology' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '36554-4', display: 'XR Chest Single view' }], text: 'Chest X-ray, AI analysis' },
      ...subjectRef,
      effectiveDateTime: instant,
      issued: instant,
      result: observations.map((o) => ({ reference: o.fullUrl, display: o.resource.code.text })),
      conclusion,
    },
  };

  const device = {
    fullUrl: deviceUrl,
    resource: {
      resourceType: 'Device',
      meta,
      identifier: [{ system: 'urn:cxr-edge:model-sha256', value: info.sha256 }],
      deviceName: [{ name: info.name, type: 'model-name' }],
      type: { text: 'Software: machine-learning model (research artifact, not a medical device)' },
      version: [{ value: info.version }],
    },
  };

  return { resourceType: 'Bundle', id: id(), meta, type: 'collection', timestamp: instant, entry: [report, ...observations, device] };
}
