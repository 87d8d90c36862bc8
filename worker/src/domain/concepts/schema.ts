import { z } from 'zod';
import { idParam, nameParam } from '../../http/contract.js';
import { documented, sentence } from '../../http/contract-fields.js';
import { CONCEPT_TYPES } from './service.js';

/** Shared concepts and their project links (spec 04 §5–6). */

export const ConceptIdParams = z.object({ id: idParam });
export const ConceptLinkParams = z.object({ id: idParam, projectId: nameParam });
export const ProjectParams = z.object({ projectId: nameParam });

const typeField = sentence({ type: 'string', enum: [...CONCEPT_TYPES], description: 'Default `custom`' }, (v) =>
  v === undefined || (CONCEPT_TYPES as readonly unknown[]).includes(v)
    ? null
    : `must be one of: ${CONCEPT_TYPES.join(', ')}`,
);
const name = z.string().trim().min(1).max(200);
const description = z.string().max(10_000);
const data = z.unknown().optional().meta({ description: 'Any JSON; stored as JSON text' });

export const CreateConcept = z.object({
  // Absent, null and '' all answer `name is required`, before the type is looked at.
  name: sentence({ type: 'string', maxLength: 200 }, (v) => (v === null || v === '' ? 'is required' : null), {
    required: true,
  }).pipe(name),
  type: typeField,
  description: description.optional(),
  data,
});

export const UpdateConcept = z.object({
  type: typeField,
  name: name.optional(),
  description: description.optional(),
  data,
});

export const DeleteConcept = z.object({ approval_id: documented({ type: ['integer', 'string'] }) });
export const DeleteConceptQuery = z.object({ approval_id: z.string().optional() });

export const LinkConcept = z.object({
  project_id: sentence(
    { type: 'string', maxLength: 200 },
    (v) =>
      v === null || v === '' ? 'is required' : typeof v !== 'string' || v.length > 200 ? 'must be a string' : null,
    { required: true },
  ),
});

const ConceptFields = {
  id: z.number().int(),
  name: z.string(),
  type: z.string(),
  description: z.string(),
  data: z.unknown().meta({ description: 'The stored JSON, parsed' }),
  version: z.number().int(),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
};

const ConceptProject = z
  .record(z.string(), z.unknown())
  .meta({ description: 'A linked project: its row when the project exists, plus `linked_at` and `linked_by`' });

export const Concept = z.object({ ...ConceptFields, projects: z.array(ConceptProject) }).meta({ id: 'Concept' });

export const ProjectConcept = z
  .object({ ...ConceptFields, linked_at: z.string(), linked_by: z.string() })
  .meta({ id: 'ProjectConcept' });

export const ConceptDeleted = z.object({ ok: z.literal(true), approval_warning: z.string().optional() });
export const ConceptLinked = z.object({ ok: z.literal(true), concept_id: z.number().int(), project: z.string() });
export const ConceptUnlinked = z.object({ ok: z.literal(true) });
