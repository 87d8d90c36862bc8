import type { AppContext } from '../../context.js';
import { atomicWrite } from '../events/write.js';
import { widgetsRepo, type NewWidget, type WidgetRow } from './repo.js';

/** Pushes a widget; the row and its `widget_created` (naming the new id) commit together (issue 17). */
export async function createWidget(app: AppContext, w: NewWidget): Promise<WidgetRow> {
  const res = await atomicWrite(app)
    .add('widget', widgetsRepo.insert(w))
    .eventWithNewId(
      {
        type: 'widget_created',
        agent: w.agent_id,
        projectId: w.project_id,
        summary: w.title,
        data: { widget_id: 0, widget_type: w.widget_type },
      },
      'widget_id',
    )
    .commit();
  return res.row<WidgetRow>('widget')!;
}
