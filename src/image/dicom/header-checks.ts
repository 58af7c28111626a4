/**
 * What a DICOM header says about the image before any pixel is decoded: a CT slice, an ultrasound, a
 * lateral view or a knee is refused as not a chest X-ray, whatever the model's gate would say. Values are
 * named in messages only when they are terms the standard defines; anything else is described, never
 * echoed (a header is hostile input and may carry patient text anywhere).
 */
import { ImageError } from '../errors';
import type { DataSet } from './dataset';
import { Tag } from './tags';

// Projection radiography (CR, DX, and the retired DR/RG), and OT/SC secondary captures of one.
const RADIOGRAPH_MODALITIES = new Set(['CR', 'DX', 'DR', 'RG', 'OT', 'SC']);
// Defined terms of PS3.3 C.7.3.1.1.1 that are not projection radiographs (the ones named in a refusal).
const OTHER_MODALITIES = new Set([
  'CT', 'MR', 'US', 'NM', 'PT', 'XA', 'RF', 'MG', 'IO', 'PX', 'OP', 'OPT', 'OPV', 'SM', 'ES', 'XC', 'GM', 'ECG', 'EPS',
  'HD', 'IVUS', 'OCT', 'BMD', 'SR', 'KO', 'PR', 'DOC', 'RTIMAGE', 'RTDOSE', 'RTSTRUCT', 'RTPLAN', 'RTRECORD', 'SEG',
  'REG', 'AU', 'BI', 'DG', 'LS', 'TG', 'OSS', 'OAM', 'HC', 'LEN', 'SRF', 'VA', 'AR', 'KER', 'IOL', 'BDUS', 'OPM',
]);
const LATERAL_VIEWS = new Set(['LL', 'RL', 'LATERAL', 'LAT', 'LLAT', 'RLAT']);
const CHEST_BODY_PARTS = new Set(['CHEST', 'THORAX', 'LUNG', 'PORT CHEST', 'TORSO', 'CHESTABDOMEN', 'CHEST_ABDOMEN', 'CHESTABDPELVIS']);

/**
 * @throws ImageError `not_a_chest_xray` with reason `dicom_modality`, `dicom_view_position` or
 *   `dicom_body_part` when the header says the image is not a frontal chest radiograph
 */
export function checkChestHeader(ds: DataSet): void {
  const modality = ds.string(Tag.Modality)?.toUpperCase();
  if (modality && !RADIOGRAPH_MODALITIES.has(modality)) {
    const named = OTHER_MODALITIES.has(modality) ? `${modality} images are` : 'This modality is';
    throw new ImageError(
      'not_a_chest_xray',
      `The DICOM header says this is not a projection radiograph: ${named} not chest X-rays (accepted modalities: CR, DX, and OT/SC secondary captures).`,
      'dicom_modality',
    );
  }
  const view = ds.string(Tag.ViewPosition)?.toUpperCase();
  if (view && LATERAL_VIEWS.has(view)) {
    throw new ImageError('not_a_chest_xray', `The DICOM header says this is a lateral view (${view}); the model reads frontal (PA or AP) chest films.`, 'dicom_view_position');
  }
  const bodyPart = ds.string(Tag.BodyPartExamined)?.toUpperCase();
  if (bodyPart && !CHEST_BODY_PARTS.has(bodyPart)) {
    throw new ImageError('not_a_chest_xray', 'The DICOM header says the body part examined is not the chest.', 'dicom_body_part');
  }
}
