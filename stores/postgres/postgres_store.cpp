// The PostgreSQL session store: shared by any number of nodes (processes), each session
// leased to one node at a time. `load` claims the session's lease (bumping its epoch) and
// reads it on the caller's thread; turns, erases and releases go through the writer thread,
// which commits everything queued in one transaction (group commit) with a constant number
// of statements: every turn's update is fenced by its lease's epoch and by the previous
// turn, so a node that lost a session never writes to it. Each turn's caller hears back
// only after COMMIT. A third thread renews all of this node's leases in one statement.
//
// Three connections, one per thread that uses it: reads (behind a mutex), the writer's and
// the renewer's. A broken connection is reopened by its next use, with a backoff.

#include "stores/batch_writer.hpp"
#include "stores/postgres/connection.hpp"
#include "stores/postgres/leases.hpp"
#include "stores/postgres/schema.hpp"
#include "stores/time_ms.hpp"

#include "core/thread_annotations.hpp"

#include <agentrt/session_store.hpp>

#include <algorithm>
#include <bit>
#include <cctype>
#include <map>
#include <set>
#include <stdexcept>
#include <unistd.h>

namespace agentrt {

namespace {

using detail::BatchWork;
using detail::BatchWriter;
using detail::Mutex;
using detail::MutexLock;
using detail::from_ms;
using detail::to_ms;
using namespace detail::postgres;

std::string num(std::int64_t v) {
  return std::to_string(v);
}

// -- the statements -------------------------------------------------------------------------

// The claim: a new row, or the lease taken over when it ended, was never taken, or is this
// node's own (a restarted node with the same name takes its sessions back at once). Every
// claim takes a new epoch, which fences the commits of every earlier claim. Epochs come from
// one sequence, so they never repeat, not even for a session erased and started again (a
// node frozen before the erase still holds the old one). $3: now in ms (a claim with no
// committed turn still ages, so an abandoned one expires).
const char* claim_sql
  = "INSERT INTO agentrt_sessions AS s(agent, session_id, turns, created, last_activity, node,"
    " address, epoch, lease_until) VALUES($1, $2, 0, $3, $3, $4, $5, nextval('agentrt_epochs'),"
    " now() + $6::bigint * interval '1 millisecond')"
    " ON CONFLICT (agent, session_id) DO UPDATE SET node = excluded.node,"
    " address = excluded.address, epoch = excluded.epoch, lease_until = excluded.lease_until,"
    " wanted_by = NULL WHERE s.lease_until < now() OR s.node = excluded.node"
    " OR s.lease_until IS NULL RETURNING epoch, turns";

// Another node holds a live lease: its renewals stop (it lets the lease lapse) once it sees
// this node wants the session, so clients sent here (by the proxy) converge here.
const char* want_sql = "UPDATE agentrt_sessions SET wanted_by = $3, wanted_at = now()"
                       " WHERE agent = $1 AND session_id = $2 AND node <> $3"
                       " AND lease_until >= now() RETURNING node, address";

const char* select_session_sql = "SELECT turns, created, last_activity FROM agentrt_sessions"
                                 " WHERE agent = $1 AND session_id = $2 AND turns > 0";
const char* select_history_sql = "SELECT role, name, content FROM agentrt_history"
                                 " WHERE agent = $1 AND session_id = $2 ORDER BY idx";
const char* select_state_sql
  = "SELECT key, value FROM agentrt_state WHERE agent = $1 AND session_id = $2";
const char* select_requests_sql
  = "SELECT request_id, input_hash, turn, output, interrupted, at FROM agentrt_requests"
    " WHERE agent = $1 AND session_id = $2 ORDER BY at, turn";

// A round's turns, each moving its session from turn N-1 to N under the epoch it claimed.
// A turn not returned was fenced: another node claimed the session since, or the turn does
// not follow the stored one. A commit also extends its lease ($7 ms; `extended`), unless
// another node asked for the session ($8: this node), so a session busy in every batch
// keeps its lease even when the renewal finds its row locked by the batch.
const char* fenced_update_sql
  = "UPDATE agentrt_sessions s SET turns = v.turns, last_activity = v.la,"
    " created = CASE WHEN v.turns = 1 THEN v.created ELSE s.created END,"
    " lease_until = CASE WHEN s.wanted_by IS NOT NULL AND s.wanted_by <> $8"
    " AND s.wanted_at > now() - $7::bigint * interval '1 millisecond' THEN s.lease_until"
    " ELSE greatest(s.lease_until, now() + $7::bigint * interval '1 millisecond') END"
    " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],"
    " $6::bigint[]) AS v(agent, sid, turns, epoch, created, la)"
    " WHERE s.agent = v.agent AND s.session_id = v.sid AND s.epoch = v.epoch AND s.node = $8"
    " AND s.turns = v.turns - 1"
    " RETURNING s.agent, s.session_id, NOT (s.wanted_by IS NOT NULL AND s.wanted_by <> $8"
    " AND s.wanted_at > now() - $7::bigint * interval '1 millisecond') AS extended";
const char* delete_histories_sql
  = "DELETE FROM agentrt_history h USING unnest($1::text[], $2::text[]) AS v(agent, sid)"
    " WHERE h.agent = v.agent AND h.session_id = v.sid";
// A plain INSERT: an entry written twice (a turn saved twice) is an error. Each entry
// carries the turn that wrote it ($7-$8, $10; $9 this node), which agentrt_turns audits.
const char* insert_history_sql
  = "INSERT INTO agentrt_history(agent, session_id, idx, role, name, content, turn, epoch,"
    " node, request_id) SELECT v.agent, v.sid, v.idx, v.role, v.name, v.content, v.turn,"
    " v.epoch, CASE WHEN v.turn IS NULL THEN NULL ELSE $9 END, v.rid"
    " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::smallint[], $5::text[],"
    " $6::text[], $7::bigint[], $8::bigint[], $10::text[])"
    " AS v(agent, sid, idx, role, name, content, turn, epoch, rid)";
const char* upsert_state_sql
  = "INSERT INTO agentrt_state(agent, session_id, key, value)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])"
    " ON CONFLICT (agent, session_id, key) DO UPDATE SET value = excluded.value";
const char* delete_state_sql
  = "DELETE FROM agentrt_state s USING unnest($1::text[], $2::text[], $3::text[])"
    " AS v(agent, sid, key) WHERE s.agent = v.agent AND s.session_id = v.sid"
    " AND s.key = v.key";
// A request id forgotten by the runtime (past its count or age) may come back with a new
// turn: the newer one replaces it.
const char* upsert_request_sql
  = "INSERT INTO agentrt_requests(agent, session_id, request_id, input_hash, turn, output,"
    " interrupted, at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],"
    " $5::bigint[], $6::text[], $7::boolean[], $8::bigint[])"
    " ON CONFLICT (agent, session_id, request_id) DO UPDATE SET"
    " input_hash = excluded.input_hash, turn = excluded.turn, output = excluded.output,"
    " interrupted = excluded.interrupted, at = excluded.at";
// A session keeps its last `requests_kept` request ids ($3: the oldest turn kept).
const char* prune_requests_sql
  = "DELETE FROM agentrt_requests r USING unnest($1::text[], $2::text[], $3::bigint[])"
    " AS v(agent, sid, oldest) WHERE r.agent = v.agent AND r.session_id = v.sid"
    " AND r.turn < v.oldest";
// Idle expiry: the lease ends now, so another node may claim the session at once; without
// a node, no renewal already on its way can extend it again.
const char* release_sql = "UPDATE agentrt_sessions SET lease_until = now(), node = NULL"
                          " WHERE agent = $1 AND session_id = $2 AND node = $3 AND epoch = $4";
// An erase (close, lifetime) is refused while another node holds a live lease: that node
// serves the session, and may have committed since the erase was decided. Locks the row.
const char* erase_check_sql
  = "SELECT node, address FROM agentrt_sessions WHERE agent = $1 AND session_id = $2"
    " AND node <> $3 AND lease_until >= now() FOR UPDATE";
const char* erase_sqls[] = {
  "DELETE FROM agentrt_sessions WHERE agent = $1 AND session_id = $2",
  "DELETE FROM agentrt_history WHERE agent = $1 AND session_id = $2",
  "DELETE FROM agentrt_state WHERE agent = $1 AND session_id = $2",
  "DELETE FROM agentrt_owners WHERE agent = $1 AND session_id = $2",
  "DELETE FROM agentrt_requests WHERE agent = $1 AND session_id = $2",
};

// Every lease of this node still at the epoch it claimed (`mine`), renewed unless another
// node wants the session (asked within the last lease time: that one is let lapse, while
// the epoch stays this node's, so a turn in flight still commits) or its row is locked: SKIP LOCKED, so the renewal never waits for (or deadlocks with) a batch
// committing that session, whose commit extends the lease itself. Per lease: whether it is
// still this node's to keep, and whether it was renewed.
const char* renew_sql
  = "WITH mine AS (SELECT s.agent, s.session_id, s.epoch, NOT (s.wanted_by IS NOT NULL"
    " AND s.wanted_by <> $4 AND s.wanted_at > now() - $5::bigint * interval '1 millisecond')"
    " AS keep FROM agentrt_sessions s JOIN unnest($1::text[], $2::text[], $3::bigint[])"
    " AS v(agent, sid, epoch) ON s.agent = v.agent AND s.session_id = v.sid"
    " WHERE s.epoch = v.epoch AND s.node = $4),"
    " free AS (SELECT s.agent, s.session_id FROM agentrt_sessions s JOIN mine m"
    " ON s.agent = m.agent AND s.session_id = m.session_id WHERE m.keep AND s.epoch = m.epoch"
    " AND s.node = $4 FOR NO KEY UPDATE OF s SKIP LOCKED),"
    " renewed AS (UPDATE agentrt_sessions s SET lease_until"
    " = greatest(s.lease_until, now() + $5::bigint * interval '1 millisecond') FROM free f"
    " WHERE s.agent = f.agent AND s.session_id = f.session_id RETURNING s.agent, s.session_id)"
    " SELECT m.agent, m.session_id, m.keep, r.agent IS NOT NULL FROM mine m LEFT JOIN renewed r"
    " ON r.agent = m.agent AND r.session_id = m.session_id";

// The primary key (agent, owner) makes this atomic across nodes: the first insert wins,
// every other caller reads the winner.
const char* insert_owner_sql = "INSERT INTO agentrt_owners(agent, owner, session_id, created)"
                               " VALUES($1, $2, $3, $4) ON CONFLICT (agent, owner) DO NOTHING";
const char* select_owner_sql
  = "SELECT session_id FROM agentrt_owners WHERE agent = $1 AND owner = $2";

// Sessions past their lifetime that no node holds a live lease on, and owner mappings of
// sessions never stored (no committed turn, and no live claim: its first turn may be
// running on some node).
const char* expired_sql
  = "SELECT agent, session_id FROM agentrt_sessions WHERE created < $1 AND last_activity < $2"
    " AND (lease_until IS NULL OR lease_until < now())"
    " UNION SELECT o.agent, o.session_id FROM agentrt_owners o WHERE o.created < $1"
    " AND NOT EXISTS (SELECT 1 FROM agentrt_sessions s WHERE s.agent = o.agent"
    " AND s.session_id = o.session_id AND (s.turns > 0 OR s.lease_until >= now()))";

/// Request ids kept in the database per session: the last 1,024 turns' (more than any
/// runtime keeps in memory: RuntimeConfig::request_ids_kept, 64 by default).
constexpr std::uint64_t requests_kept = 1024;

/// What a batch's transaction decided for its items, applied only once it committed.
struct Outcomes {
  std::vector<std::optional<Error>> errors; // per batch item
  std::vector<HeldLease> lost;              // fenced: forgotten here
  std::vector<HeldLease> extended;          // committed and extended by the commit
  std::vector<SessionKey> erased;           // their leases forgotten too
};

using KeyView = std::pair<std::string_view, std::string_view>;

KeyView view(const SessionKey& k) {
  return {k.agent, k.session_id};
}

/// A turn PostgreSQL's text cannot hold (a NUL byte) fails alone, before its batch.
bool storable(const TurnRecord& r) {
  auto ok = [](const Message& m) { return !has_nul(m.content) && !has_nul(m.name); };
  if (!std::all_of(r.entries.begin(), r.entries.end(), ok))
    return false;
  if (r.history_before && !std::all_of(r.history_before->begin(), r.history_before->end(), ok))
    return false;
  for (auto& [k, v] : r.state_writes)
    if (has_nul(k) || (v && has_nul(*v)))
      return false;
  return !r.request || (!has_nul(r.request->request_id) && !has_nul(r.request->output));
}

std::string key_text(const SessionKey& k) {
  return k.agent + "/" + k.session_id;
}

/// The session's rows, from one snapshot (its owner may be committing meanwhile), or nullopt
/// when it has no committed turn.
Result<std::optional<StoredSession>> read_session(Connection& db, const SessionKey& key) {
  std::optional<StoredSession> out;
  auto r = db.transaction(
    [&]() -> Result<void> {
      const char* k[] = {key.agent.c_str(), key.session_id.c_str()};
      auto s = db.exec("read the session", select_session_sql, {k[0], k[1]});
      if (!s)
        return s.error();
      if (s->size() == 0)
        return {};
      StoredSession session;
      session.key = key;
      session.turns = static_cast<std::uint64_t>(s->integer(0, 0));
      session.created = from_ms(s->integer(0, 1));
      session.last_activity = from_ms(s->integer(0, 2));
      auto h = db.exec("read the history", select_history_sql, {k[0], k[1]});
      if (!h)
        return h.error();
      for (int i = 0; i < h->size(); ++i)
        session.history.push_back(
          Message{static_cast<Role>(h->integer(i, 0)), h->text(i, 2), h->text(i, 1)});
      auto st = db.exec("read the state", select_state_sql, {k[0], k[1]});
      if (!st)
        return st.error();
      for (int i = 0; i < st->size(); ++i)
        session.state.emplace(st->text(i, 0), st->text(i, 1));
      auto q = db.exec("read the request ids", select_requests_sql, {k[0], k[1]});
      if (!q)
        return q.error();
      for (int i = 0; i < q->size(); ++i)
        session.requests.push_back(StoredRequest{
          q->text(i, 0), std::bit_cast<std::uint64_t>(q->integer(i, 1)),
          static_cast<std::uint64_t>(q->integer(i, 2)), q->text(i, 3), q->boolean(i, 4),
          from_ms(q->integer(i, 5))});
      out = std::move(session);
      return {};
    },
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!r)
    return r.error();
  return out;
}

/// The session id of `owner` (made `candidate` if it has none), in one transaction.
Result<OwnerSession> owner_session_in(Connection& db, const std::string& agent,
                                      const std::string& owner, const std::string& candidate) {
  auto now = num(to_ms(std::chrono::system_clock::now()));
  OwnerSession out;
  auto r = db.transaction([&]() -> Result<void> {
    auto ins = db.exec("record the owner's session", insert_owner_sql,
                       {agent.c_str(), owner.c_str(), candidate.c_str(), now.c_str()});
    if (!ins)
      return ins.error();
    out.created = ins->changed() == 1;
    auto sel = db.exec("read the owner's session", select_owner_sql,
                       {agent.c_str(), owner.c_str()});
    if (!sel)
      return sel.error();
    if (sel->size() != 1)
      return Error{errc::store_failed, "postgresql: the owner's session vanished"};
    out.session_id = sel->text(0, 0);
    return {};
  });
  if (!r)
    return r.error();
  return out;
}

/// Opens the connections and the schema (at open, before any thread); the schema version
/// found.
int connect_all(Connection& read, Connection& write, Connection& renew) {
  read.open_or_throw();
  int version = open_schema(read);
  write.open_or_throw();
  renew.open_or_throw();
  return version;
}

class PostgresStore final : public DurableStore {
public:
  explicit PostgresStore(PostgresOptions options)
    : options_(std::move(options)), leases_(options_.lease),
      read_(options_.conninfo, options_.connect_timeout, options_.lease),
      write_(options_.conninfo, options_.connect_timeout, options_.lease),
      renew_(options_.conninfo, options_.connect_timeout, options_.lease),
      found_version_(connect_all(read_, write_, renew_)),
      writer_([this](std::deque<BatchWork>& batch) { write_batch(batch); }),
      renewer_(options_.lease / 3, [this] { renew_leases(); }) {
    // nop
  }

  Result<std::optional<StoredSession>> load(const SessionKey& key) override {
    MutexLock guard{read_mu_};
    if (auto ok = read_.ensure("load the session"); !ok)
      return ok.error();
    // A lease that ends between a failed claim and the look at its owner: claim again.
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto sent = std::chrono::steady_clock::now();
      auto now = num(to_ms(std::chrono::system_clock::now()));
      auto lease = num(options_.lease.count());
      auto c = read_.exec("claim the session", claim_sql,
                          {key.agent.c_str(), key.session_id.c_str(), now.c_str(),
                           options_.node.c_str(), options_.address.c_str(), lease.c_str()});
      if (!c)
        return c.error();
      if (c->size() == 1)
        return claimed(key, c->integer(0, 0), c->integer(0, 1), sent);
      auto w = read_.exec("find the session's owner", want_sql,
                          {key.agent.c_str(), key.session_id.c_str(), options_.node.c_str()});
      if (!w)
        return w.error();
      if (w->size() == 1)
        return make_elsewhere_error(w->text(0, 0), w->text(0, 1));
    }
    return Error{errc::store_failed, "postgresql: the lease of " + key_text(key)
                                       + " kept changing hands while claiming it"};
  }

  Result<std::optional<StoredSession>> read(const SessionKey& key) override {
    MutexLock guard{read_mu_};
    if (auto ok = read_.ensure("read the session"); !ok)
      return ok.error();
    return read_session(read_, key);
  }

  void commit(std::shared_ptr<const TurnRecord> record,
              std::function<void(Result<void>)> done) override {
    // The epoch the session was claimed with, fixed now: a later claim (by this node too)
    // fences this turn.
    auto epoch = leases_.epoch(record->key);
    if (!epoch) {
      done(lease_lost(*record));
      return;
    }
    writer_.enqueue(BatchWork::turn(std::move(record), std::move(done), *epoch));
  }

  bool holds(const SessionKey& key) const noexcept override {
    return leases_.holds(key);
  }

  void release(const SessionKey& key) override {
    // Forgotten here at once (commits from now on fail); the database hears after the
    // session's queued turns.
    if (auto epoch = leases_.drop(key))
      writer_.enqueue(BatchWork::release_of(key, *epoch));
  }

  Result<void> erase(const SessionKey& key) override {
    return writer_.erase(key); // behind the session's queued turns
  }

  Result<OwnerSession> owner_session(std::string_view agent, std::string_view owner,
                                     const std::string& candidate) override {
    MutexLock guard{read_mu_};
    if (auto ok = read_.ensure("find the owner's session"); !ok)
      return ok.error();
    return owner_session_in(read_, std::string{agent}, std::string{owner}, candidate);
  }

  Result<std::vector<SessionKey>> expired(std::chrono::system_clock::time_point created_before,
                                          std::chrono::system_clock::time_point active_before)
    override {
    MutexLock guard{read_mu_};
    if (auto ok = read_.ensure("list old sessions"); !ok)
      return ok.error();
    auto c = num(to_ms(created_before)), a = num(to_ms(active_before));
    auto rows = read_.exec("list old sessions", expired_sql, {c.c_str(), a.c_str()});
    if (!rows)
      return rows.error();
    std::vector<SessionKey> out;
    for (int i = 0; i < rows->size(); ++i)
      out.push_back(SessionKey{rows->text(i, 0), rows->text(i, 1)});
    return out;
  }

private:
  Error lease_lost(const TurnRecord& r) const {
    return Error{errc::lease_lost, "postgresql: node " + options_.node
                                     + " no longer holds the lease of " + key_text(r.key)
                                     + " (it lapsed and another node took the session over,"
                                       " or the session moved on without this copy); turn "
                                     + std::to_string(r.turns) + " not committed"};
  }

  // -- reading --------------------------------------------------------------------------------

  Result<std::optional<StoredSession>> claimed(const SessionKey& key, std::int64_t epoch,
                                               std::int64_t turns, SteadyTime sent)
    AGENTRT_REQUIRES(read_mu_) {
    leases_.claimed(key, epoch, sent);
    if (turns == 0)
      return std::optional<StoredSession>{}; // claimed before, never committed
    auto s = read_session(read_, key);
    if (!s) { // the caller will not serve it: let the lease go, not run out
      leases_.drop(key, epoch);
      writer_.enqueue(BatchWork::release_of(key, epoch));
    }
    return s;
  }

  // -- writing (the writer thread) ------------------------------------------------------------

  /// Commits `batch` in one transaction, in queue order, and calls each item's `done`. A
  /// deadlock with another node's statements is retried; if the data of one item is refused
  /// (a duplicate entry, text PostgreSQL rejects), the items are committed one by one so only
  /// it fails; any other error (the connection lost, the server restarting) fails the whole
  /// batch at once, and the next batch reconnects.
  void write_batch(std::deque<BatchWork>& batch) {
    std::vector<Result<void>> results(batch.size());
    std::vector<std::size_t> items;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].record && !storable(*batch[i].record))
        results[i] = Error{errc::store_failed,
                           "postgresql: turn " + std::to_string(batch[i].record->turns) + " of "
                             + key_text(batch[i].record->key)
                             + " not committed: its text holds a NUL byte, which PostgreSQL"
                               " cannot store"};
      else
        items.push_back(i);
    }
    if (!items.empty()) {
      auto all = write_retrying(batch, items, results);
      if (!all && items.size() > 1 && is_data_error(write_.last_sqlstate())) {
        for (auto i : items)
          if (auto one = write_retrying(batch, {i}, results); !one)
            results[i] = one.error();
      } else if (!all) {
        for (auto i : items)
          results[i] = all.error();
      }
    }
    for (std::size_t i = 0; i < batch.size(); ++i)
      batch[i].done(std::move(results[i]));
  }

  /// write_items, again after a deadlock or serialization failure (two nodes' batches can
  /// lock the same rows in different orders: one commits, the other's stale turn is fenced).
  Result<void> write_retrying(std::deque<BatchWork>& batch, const std::vector<std::size_t>& items,
                              std::vector<Result<void>>& results) {
    for (int attempt = 0;; ++attempt) {
      auto r = write_items(batch, items, results);
      if (r || attempt == 2 || write_.last_sqlstate().rfind("40", 0) != 0)
        return r;
    }
  }

  /// One transaction over `items` (indexes into `batch`, in queue order); on COMMIT, each
  /// item's outcome is set in `results` and the leases it lost or erased are forgotten.
  Result<void> write_items(std::deque<BatchWork>& batch, const std::vector<std::size_t>& items,
                           std::vector<Result<void>>& results) {
    if (auto ok = write_.ensure("commit"); !ok)
      return ok;
    Outcomes out;
    out.errors.resize(batch.size());
    auto sent = std::chrono::steady_clock::now(); // before any lease this batch extends
    auto r = write_.transaction([&]() -> Result<void> {
      // Rounds: a session appears once per round, so its turns N and N+1 of one batch are
      // applied in order by consecutive rounds. Erases and releases end a round.
      std::vector<std::size_t> round;
      std::set<KeyView> in_round;
      auto flush = [&]() -> Result<void> {
        auto ok = write_round(batch, round, out);
        round.clear();
        in_round.clear();
        return ok;
      };
      for (auto i : items) {
        auto& w = batch[i];
        if (w.record && in_round.insert(view(w.record->key)).second) {
          round.push_back(i);
          continue;
        }
        if (auto ok = flush(); !ok)
          return ok;
        if (w.record) {
          round.push_back(i);
          in_round.insert(view(w.record->key));
        } else if (auto ok = w.erase ? erase_now(i, *w.erase, out) : release_now(w); !ok) {
          return ok;
        }
      }
      return flush();
    });
    if (!r)
      return r;
    for (auto i : items)
      results[i] = out.errors[i] ? Result<void>{*out.errors[i]} : Result<void>{};
    for (auto& l : out.extended)
      leases_.extended(l.key, l.epoch, sent);
    for (auto& l : out.lost)
      leases_.drop(l.key, l.epoch);
    for (auto& k : out.erased)
      leases_.drop(k);
    return {};
  }

  /// A round's turns (distinct sessions): one fenced update, then each kind of row of the
  /// turns that passed it as one statement.
  Result<void> write_round(std::deque<BatchWork>& batch, std::vector<std::size_t>& round,
                           Outcomes& out) {
    if (round.empty())
      return {};
    // Sorted by key: concurrent updates of the same rows (the renewal) lock them in the
    // same order, which keeps deadlocks rare.
    std::sort(round.begin(), round.end(), [&](std::size_t a, std::size_t b) {
      return view(batch[a].record->key) < view(batch[b].record->key);
    });
    auto passed = fence(batch, round, out);
    if (!passed)
      return passed.error();
    if (passed->empty())
      return {};
    if (auto ok = write_history(batch, *passed); !ok)
      return ok;
    std::vector<const TurnRecord*> turns;
    for (auto i : *passed)
      turns.push_back(batch[i].record.get());
    if (auto ok = write_state(turns); !ok)
      return ok;
    return write_requests(turns);
  }

  /// The fenced update of a round: the items whose turn passed; the others fail lease_lost.
  Result<std::vector<std::size_t>> fence(std::deque<BatchWork>& batch,
                                         const std::vector<std::size_t>& round, Outcomes& out) {
    TextArray agents, sids;
    IntArray turns, epochs, created, active;
    for (auto i : round) {
      auto& r = *batch[i].record;
      agents.add(r.key.agent);
      sids.add(r.key.session_id);
      turns.add(static_cast<std::int64_t>(r.turns));
      epochs.add(batch[i].epoch);
      created.add(to_ms(r.created));
      active.add(to_ms(r.last_activity));
    }
    auto lease = num(options_.lease.count());
    auto rows = write_.exec("update the sessions", fenced_update_sql,
                            {agents.c_str(), sids.c_str(), turns.c_str(), epochs.c_str(),
                             created.c_str(), active.c_str(), lease.c_str(),
                             options_.node.c_str()});
    if (!rows)
      return rows.error();
    std::map<std::pair<std::string, std::string>, bool> updated; // -> extended
    for (int i = 0; i < rows->size(); ++i)
      updated.emplace(std::pair{rows->text(i, 0), rows->text(i, 1)}, rows->boolean(i, 2));
    std::vector<std::size_t> passed;
    for (auto i : round) {
      auto& r = *batch[i].record;
      if (auto u = updated.find({r.key.agent, r.key.session_id}); u != updated.end()) {
        passed.push_back(i);
        if (u->second)
          out.extended.push_back(HeldLease{r.key, batch[i].epoch});
      } else {
        out.errors[i] = lease_lost(r);
        out.lost.push_back(HeldLease{r.key, batch[i].epoch});
      }
    }
    return passed;
  }

  /// The turns' new entries, each naming its turn; a compacted history (history_before)
  /// replaces what is stored.
  Result<void> write_history(std::deque<BatchWork>& batch, const std::vector<std::size_t>& passed) {
    TextArray del_agents, del_sids, agents, sids, names, contents, rids;
    IntArray idx, roles, turns, epochs;
    bool rewrite = false, any = false;
    auto add = [&](const BatchWork& w, std::int64_t i, const Message& m, bool of_turn) {
      auto& r = *w.record;
      agents.add(r.key.agent);
      sids.add(r.key.session_id);
      idx.add(i);
      roles.add(static_cast<std::int64_t>(m.role));
      names.add(m.name);
      contents.add(m.content);
      if (of_turn) {
        turns.add(static_cast<std::int64_t>(r.turns));
        epochs.add(w.epoch);
      } else {
        turns.add_null();
        epochs.add_null();
      }
      if (of_turn && r.request)
        rids.add(r.request->request_id);
      else
        rids.add_null();
      any = true;
    };
    for (auto b : passed) {
      auto& r = *batch[b].record;
      if (r.history_before) {
        del_agents.add(r.key.agent);
        del_sids.add(r.key.session_id);
        rewrite = true;
        std::int64_t i = 0;
        for (auto& m : *r.history_before)
          add(batch[b], i++, m, false);
      }
      auto i = static_cast<std::int64_t>(r.first_index);
      for (auto& m : r.entries)
        add(batch[b], i++, m, true);
    }
    if (rewrite)
      if (auto ok = write_.exec("compact the history", delete_histories_sql,
                                {del_agents.c_str(), del_sids.c_str()});
          !ok)
        return ok.error();
    if (!any)
      return {};
    auto ok = write_.exec("append to the history", insert_history_sql,
                          {agents.c_str(), sids.c_str(), idx.c_str(), roles.c_str(),
                           names.c_str(), contents.c_str(), turns.c_str(), epochs.c_str(),
                           options_.node.c_str(), rids.c_str()});
    return ok ? Result<void>{} : Result<void>{ok.error()};
  }

  Result<void> write_state(const std::vector<const TurnRecord*>& turns) {
    TextArray up_agents, up_sids, up_keys, up_values, del_agents, del_sids, del_keys;
    bool ups = false, dels = false;
    for (auto* r : turns)
      for (auto& [k, v] : r->state_writes) {
        if (v) {
          up_agents.add(r->key.agent);
          up_sids.add(r->key.session_id);
          up_keys.add(k);
          up_values.add(*v);
          ups = true;
        } else {
          del_agents.add(r->key.agent);
          del_sids.add(r->key.session_id);
          del_keys.add(k);
          dels = true;
        }
      }
    if (ups)
      if (auto ok = write_.exec("write the state", upsert_state_sql,
                                {up_agents.c_str(), up_sids.c_str(), up_keys.c_str(),
                                 up_values.c_str()});
          !ok)
        return ok.error();
    if (dels)
      if (auto ok = write_.exec("erase state keys", delete_state_sql,
                                {del_agents.c_str(), del_sids.c_str(), del_keys.c_str()});
          !ok)
        return ok.error();
    return {};
  }

  /// Stores the turns' request ids and forgets each session's oldest beyond requests_kept.
  Result<void> write_requests(const std::vector<const TurnRecord*>& turns) {
    TextArray agents, sids, ids, outputs, interrupted, pr_agents, pr_sids;
    IntArray hashes, turn_of, at, oldest;
    bool any = false, prune = false;
    for (auto* r : turns) {
      if (!r->request)
        continue;
      auto& q = *r->request;
      agents.add(r->key.agent);
      sids.add(r->key.session_id);
      ids.add(q.request_id);
      hashes.add(std::bit_cast<std::int64_t>(q.input_hash));
      turn_of.add(static_cast<std::int64_t>(q.turn));
      outputs.add(q.output);
      interrupted.add(q.interrupted ? "t" : "f");
      at.add(to_ms(q.at));
      any = true;
      if (r->turns > requests_kept) {
        pr_agents.add(r->key.agent);
        pr_sids.add(r->key.session_id);
        oldest.add(static_cast<std::int64_t>(r->turns - requests_kept));
        prune = true;
      }
    }
    if (any)
      if (auto ok = write_.exec("store the request ids", upsert_request_sql,
                                {agents.c_str(), sids.c_str(), ids.c_str(), hashes.c_str(),
                                 turn_of.c_str(), outputs.c_str(), interrupted.c_str(),
                                 at.c_str()});
          !ok)
        return ok.error();
    if (prune)
      if (auto ok = write_.exec("forget old request ids", prune_requests_sql,
                                {pr_agents.c_str(), pr_sids.c_str(), oldest.c_str()});
          !ok)
        return ok.error();
    return {};
  }

  /// Erases every row of the session, unless another node holds its lease: then only item
  /// `i` fails (session_elsewhere), not the batch.
  Result<void> erase_now(std::size_t i, const SessionKey& key, Outcomes& out) {
    auto held = write_.exec("check the session's lease", erase_check_sql,
                            {key.agent.c_str(), key.session_id.c_str(), options_.node.c_str()});
    if (!held)
      return held.error();
    if (held->size() == 1) {
      out.errors[i] = make_elsewhere_error(held->text(0, 0), held->text(0, 1));
      return {};
    }
    for (auto* sql : erase_sqls)
      if (auto ok = write_.exec("erase the session", sql,
                                {key.agent.c_str(), key.session_id.c_str()});
          !ok)
        return ok.error();
    out.erased.push_back(key);
    return {};
  }

  Result<void> release_now(const BatchWork& w) {
    auto epoch = num(w.epoch);
    auto ok = write_.exec("release the lease", release_sql,
                          {w.release->agent.c_str(), w.release->session_id.c_str(),
                           options_.node.c_str(), epoch.c_str()});
    return ok ? Result<void>{} : Result<void>{ok.error()};
  }

  // -- renewing (the renewer thread) ----------------------------------------------------------

  /// Renews every lease held in one statement. A failure changes nothing here: the next tick
  /// tries again, and meanwhile the local deadlines pass, so this node stops serving its
  /// sessions before their leases end in the database.
  void renew_leases() {
    auto held = leases_.snapshot();
    if (held.empty() || !renew_.ensure("renew the leases"))
      return;
    std::sort(held.begin(), held.end(),
              [](const HeldLease& a, const HeldLease& b) { return view(a.key) < view(b.key); });
    TextArray agents, sids;
    IntArray epochs;
    for (auto& l : held) {
      agents.add(l.key.agent);
      sids.add(l.key.session_id);
      epochs.add(l.epoch);
    }
    auto lease = num(options_.lease.count());
    auto sent = std::chrono::steady_clock::now();
    auto rows = renew_.exec("renew the leases", renew_sql,
                            {agents.c_str(), sids.c_str(), epochs.c_str(),
                             options_.node.c_str(), lease.c_str()});
    if (!rows)
      return;
    // Not in the answer: lost (claimed by another node, or erased).
    std::map<std::pair<std::string, std::string>, Renewal> found;
    for (int i = 0; i < rows->size(); ++i)
      found.emplace(std::pair{rows->text(i, 0), rows->text(i, 1)},
                    rows->boolean(i, 2) && rows->boolean(i, 3) ? Renewal::renewed
                                                               : Renewal::skipped);
    std::vector<Renewal> outcome(held.size(), Renewal::dropped);
    for (std::size_t i = 0; i < held.size(); ++i)
      if (auto f = found.find({held[i].key.agent, held[i].key.session_id}); f != found.end())
        outcome[i] = f->second;
    leases_.renewed(held, outcome, sent);
  }

  PostgresOptions options_;
  LeaseTable leases_;
  Mutex read_mu_;
  Connection read_ AGENTRT_GUARDED_BY(read_mu_);
  Connection write_; // the writer thread's only (and the constructor's)
  Connection renew_; // the renewer thread's only (and the constructor's)
  int found_version_; // the schema version found at open (0: new); after the connections
  BatchWriter writer_;    // its thread writes what is queued before the connections close
  LeaseRenewer renewer_;  // last: stops first, so no renewal outlives the store
};

/// The options with their defaults filled in; throws std::invalid_argument for bad ones.
PostgresOptions checked(PostgresOptions o) {
  if (o.conninfo.empty())
    throw std::invalid_argument("agentrt: PostgresOptions::conninfo is empty");
  if (o.lease < std::chrono::milliseconds(100))
    throw std::invalid_argument("agentrt: PostgresOptions::lease must be at least 100 ms (it is "
                                + std::to_string(o.lease.count()) + " ms)");
  if (o.node.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    o.node = std::string{host} + "-" + std::to_string(getpid());
  }
  if (o.address.empty())
    o.address = o.node;
  // '<' and '>' delimit the address in a session_elsewhere message (elsewhere_address).
  auto bad = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == ';' || c == '<' || c == '>';
  };
  if (std::any_of(o.address.begin(), o.address.end(), bad))
    throw std::invalid_argument("agentrt: PostgresOptions::address '" + o.address
                                + "' holds a space, ';', '<' or '>'");
  return o;
}

} // namespace

std::shared_ptr<DurableStore> open_postgres_store(PostgresOptions options) {
  return std::make_shared<PostgresStore>(checked(std::move(options)));
}

} // namespace agentrt
