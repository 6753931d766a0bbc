import { type LoadEvent, loadEvents } from '../../domain/load/events.js';
import type { EventStore, RecordedEvent } from '../../eventstore/types.js';
import { type BoardRow, evolveRow } from '../load-board/row.js';
import type { AtLeastOnceProjector } from '../../projections/types.js';
import { docOf, type LoadDoc, type SearchIndex } from './types.js';
import { LOAD_STREAM } from '../../domain/load/stream.js';

function fold(events: readonly RecordedEvent[]): BoardRow | undefined {
  let row: BoardRow | undefined;
  for (const e of events)
    row = evolveRow(
      row,
      { type: e.type, data: loadEvents.decode(e) } as LoadEvent,
      e.revision,
      e.createdAt,
      null,
      e.position,
    );
  return row;
}

/**
 * Feeds the commodity index. Each touched load's document is its whole current state, folded
 * from the load's events (from the batch when the batch starts at the load's first event, else
 * from its stream), so replays and at-least-once delivery only ever write a full, newest state.
 */
export function loadSearchProjector(index: SearchIndex, store: EventStore): AtLeastOnceProjector {
  return {
    kind: 'at-least-once',
    name: 'load_search',
    version: 1,
    eventTypes: loadEvents.types(),
    streamPrefixes: [LOAD_STREAM],
    setup: (generation) => index.setup(generation),
    retire: (generation) => index.drop(generation),

    async apply(events, generation) {
      const byStream = new Map<string, RecordedEvent[]>();
      for (const e of events) {
        const list = byStream.get(e.streamId);
        if (list) list.push(e);
        else byStream.set(e.streamId, [e]);
      }
      const docs: LoadDoc[] = [];
      await Promise.all(
        [...byStream].map(async ([streamId, list]) => {
          const history = list[0]!.revision === 0n ? list : await store.readStream(streamId);
          const row = fold(history);
          if (row) docs.push(docOf(row));
        }),
      );
      await index.upsert(generation, docs);
    },
  };
}
