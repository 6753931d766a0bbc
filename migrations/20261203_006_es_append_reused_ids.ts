import type { Knex } from 'knex';

/*
 * es_append (migration 001), checked path: an append whose first id is already stored in the same
 * stream, but without the rest of the append's ids after it, was answered wrong_expected_version
 * ("expected any" for an 'any' append, which cannot conflict). It is a reused event id, and now
 * says so: duplicate_id, whatever the expectation. A full match is still an idempotent retry when
 * the expectation held for its place, and a conflict when it did not.
 *
 * Same signature and result columns as before, so `create or replace` swaps the body in place and
 * the statements that running appenders prepared stay valid (a changed result type would fail them
 * with "cached plan must not change result type" until they restart).
 */

/** The decision once the append's first id was found stored (in v_found_stream at v_found_rev). */
export const DECIDE = {
  // Any other place (another stream, or this one without the rest of the append after it) is a reused id.
  reusedIds: `
            if v_found_stream <> v_stream or v_matched <> v_cnt then
              status := 'duplicate_id';
            elsif v_exp in ('any', 'stream_exists')
                 or (v_exp = 'no_stream' and v_found_rev = 0)
                 or (v_exp ~ '^[0-9]+$' and v_exp::numeric = v_found_rev - 1) then
              status := 'ok';
              next_revision := v_found_rev + v_cnt - 1;
              select e.tx_id, e.seq into tx, last_seq
                from es_events e where e.stream_id = v_stream and e.revision = next_revision;
            else
              status := 'wrong_expected_version';
            end if;`,
  // Migration 001's, restored by down().
  before: `
            if v_found_stream = v_stream and v_matched = v_cnt and (
                 v_exp in ('any', 'stream_exists')
                 or (v_exp = 'no_stream' and v_found_rev = 0)
                 or (v_exp ~ '^[0-9]+$' and v_exp::numeric = v_found_rev - 1)) then
              status := 'ok';
              next_revision := v_found_rev + v_cnt - 1;
              select e.tx_id, e.seq into tx, last_seq
                from es_events e where e.stream_id = v_stream and e.revision = next_revision;
            elsif v_found_stream = v_stream then
              status := 'wrong_expected_version';
            else
              status := 'duplicate_id';
            end if;`,
};

/**
 * es_append as in migration 001 (see its comments), with the checked path's decision given, and
 * (migration 007) the statements that announce the append to readers before it has an xid.
 */
export const esAppend = (decide: string, announce?: { declare: string; begin: string }) => `
    create or replace function es_append(p_streams text[], p_expected text[], p_events jsonb, p_checked boolean default false)
    returns table (idx int, status text, next_revision bigint, tx xid8, last_seq bigint, actual bigint)
    language plpgsql as $fn$
    declare
      v_tx     xid8${announce ? announce.declare : ' := pg_current_xact_id()'};
      v_i      int;
      v_stream text;
      v_exp    text;
      v_evs    jsonb;
      v_cnt    int;
      v_cur    bigint;
      v_found_stream text;
      v_found_rev    bigint;
      v_matched      int;
    begin${announce ? announce.begin : ''}
      for v_i in
        select s.ord::int from unnest(p_streams) with ordinality as s(name, ord) order by s.name, s.ord
      loop
        v_stream := p_streams[v_i];
        v_exp := p_expected[v_i];
        v_evs := p_events -> (v_i - 1);
        v_cnt := jsonb_array_length(v_evs);
        idx := v_i; next_revision := null; tx := null; last_seq := null; actual := null; v_cur := null;

        if p_checked then
          -- Lock the stream's row first, so that a concurrent append of these ids is seen committed.
          select s.revision into actual from es_streams s where s.stream_id = v_stream for update;
          actual := coalesce(actual, -1);
          select e.stream_id, e.revision into v_found_stream, v_found_rev
            from es_events e where e.id = (v_evs -> 0 ->> 'i')::uuid;
          if found then
            -- How many of the append's ids are stored in this stream right after the first one, in order.
            select count(*) into v_matched
              from jsonb_array_elements(v_evs) with ordinality as x(v, ord)
              join es_events e on e.stream_id = v_stream
                              and e.revision = v_found_rev + x.ord - 1
                              and e.id = (x.v ->> 'i')::uuid;${decide}
            return next;
            continue;
          end if;
        end if;

        if v_exp <> 'no_stream' then
          update es_streams s set revision = s.revision + v_cnt
           where s.stream_id = v_stream
             and (v_exp in ('any', 'stream_exists') or (v_exp ~ '^[0-9]+$' and s.revision = v_exp::numeric))
          returning s.revision - v_cnt into v_cur;
        end if;
        if v_cur is null and v_exp in ('any', 'no_stream') then
          -- A new stream: its row is created at its final revision (one write).
          insert into es_streams (stream_id, revision) values (v_stream, v_cnt - 1) on conflict do nothing;
          if found then
            v_cur := -1;
          elsif v_exp = 'any' then
            -- Created by a concurrent append, which we waited for: bump it now.
            update es_streams s set revision = s.revision + v_cnt where s.stream_id = v_stream
            returning s.revision - v_cnt into v_cur;
          end if;
        end if;
        if v_cur is null then
          select s.revision into actual from es_streams s where s.stream_id = v_stream;
          actual := coalesce(actual, -1);
          status := 'wrong_expected_version';
          return next;
          continue;
        end if;

        insert into es_events (tx_id, stream_id, revision, id, type, data, metadata)
        select v_tx, v_stream, v_cur + x.ord, (x.v ->> 'i')::uuid, x.v ->> 't', x.v -> 'd', coalesce(x.v -> 'm', '{}'::jsonb)
          from jsonb_array_elements(v_evs) with ordinality as x(v, ord)
         order by x.ord;
        -- The rows took their seq from this session's nextval calls, in order: the last is the highest.
        last_seq := currval('es_events_seq');
        status := 'ok';
        next_revision := v_cur + v_cnt;
        actual := v_cur;
        tx := v_tx;
        return next;
      end loop;
    end
    $fn$;`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(esAppend(DECIDE.reusedIds));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(esAppend(DECIDE.before));
}
