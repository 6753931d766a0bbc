import type { Knex } from 'knex';

/*
 * The Postgres event store.
 * - Position = (tx_id, seq): the writing transaction's id and a sequence number. Concurrent
 *   transactions commit out of sequence order, so readers order and resume by the pair and read
 *   only below the snapshot's xmin, where no transaction is in flight (see DESIGN.md).
 * - es_streams holds each stream's last revision; its row lock serialises appends to one stream.
 * - es_append takes several appends (group commit) in one statement and answers one row each; a
 *   conflict fails only its own append. Streams are locked in sorted order so two batches can't deadlock.
 * - es_append does not NOTIFY: NOTIFY takes a cluster-wide lock held through the commit's flush,
 *   which would serialise concurrent commits. Appenders notify after commit instead (appender.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table es_streams (
      stream_id text primary key,
      revision  bigint not null
    );

    create sequence es_events_seq as bigint;

    create table es_events (
      tx_id      xid8        not null,
      seq        bigint      not null default nextval('es_events_seq'),
      stream_id  text        not null,
      revision   bigint      not null,
      id         uuid        not null,
      type       text        not null,
      data       jsonb       not null,
      metadata   jsonb       not null,
      created_at timestamptz not null default now(),
      primary key (tx_id, seq)
    );
    create unique index es_events_stream_revision on es_events (stream_id, revision);
    create unique index es_events_id on es_events (id);

    -- Appends several streams' events in one statement, one answer row per append.
    -- The fast path (p_checked false): per append, one UPDATE of the stream's row (lock, check and
    -- bump at once) and one INSERT. When the expectation fails it answers wrong_expected_version,
    -- and the client asks again with p_checked, which first looks for the append's ids to tell an
    -- idempotent retry from a real conflict; an id already stored fails the fast statement (unique
    -- index) and gets the same follow-up.
    create function es_append(p_streams text[], p_expected text[], p_events jsonb, p_checked boolean default false)
    returns table (idx int, status text, next_revision bigint, tx xid8, last_seq bigint, actual bigint)
    language plpgsql as $fn$
    declare
      v_tx     xid8 := pg_current_xact_id();
      v_i      int;
      v_stream text;
      v_exp    text;
      v_evs    jsonb;
      v_cnt    int;
      v_cur    bigint;
      v_found_stream text;
      v_found_rev    bigint;
      v_matched      int;
    begin
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
            -- A retry of an append already stored: the same ids at the same place, and the
            -- expectation held for that place. Anything else is a conflict.
            select count(*) into v_matched
              from jsonb_array_elements(v_evs) with ordinality as x(v, ord)
              join es_events e on e.stream_id = v_stream
                              and e.revision = v_found_rev + x.ord - 1
                              and e.id = (x.v ->> 'i')::uuid;
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
            end if;
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
    $fn$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop function if exists es_append(text[], text[], jsonb, boolean);
    drop table if exists es_events;
    drop sequence if exists es_events_seq;
    drop table if exists es_streams;
  `);
}
