import type { AppContext } from '../../context.js';
import { atomicWrite } from '../events/write.js';
import { feedbackRepo, type FeedbackRow } from './repo.js';

/**
 * Stores one rating with its `feedback_submitted` event in one batch (issue 17). The summary is
 * JSON naming the new id, so it is built around the id the batch inserts.
 */
export async function submitFeedback(app: AppContext, f: Omit<FeedbackRow, 'id' | 'created_at'>): Promise<FeedbackRow> {
  const rest = JSON.stringify({ rating: f.rating, entity_type: f.entity_type, agent_id: f.agent_id });
  const res = await atomicWrite(app)
    .add('feedback', feedbackRepo.insert(f))
    .eventWithNewId({ type: 'feedback_submitted', agent: f.submitted_by }, 'feedback_id', [
      '{"id":',
      `,${rest.slice(1)}`,
    ])
    .commit();
  return res.row<FeedbackRow>('feedback')!;
}
