//! The journal writer's transactions (`acd.server.group_commit`), run from BEGIN to COMMIT
//! without the GIL.
//!
//! Why: Python's sqlite3 lets go of the GIL around each prepare and step and takes it back
//! after, so a commit of n statements asked for the GIL back about 2n + 4 times. While the
//! event loop was busy each of those waits could last a switch interval, and the journal's
//! commits (every acknowledgement waits for one) took 1.5-4 ms for well under 1 ms of work.
//! Here the statements' values are converted while the GIL is held, and the transaction then
//! runs on its own: one wait for the GIL, after COMMIT.
//!
//! The connection links the system's SQLite, the library Python's sqlite3 uses: one copy of
//! SQLite in the process, as its POSIX locks require. Errors are raised as Python's sqlite3
//! would raise them (`OperationalError`, `IntegrityError`, `ProgrammingError`,
//! `OverflowError`), so the writer treats both paths alike.

use std::sync::Mutex;

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyFloat, PyInt, PyMemoryView, PyString, PyTuple};
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OpenFlags};

/// Distinct statement texts a writer runs (entries, tenants, the history's statements); more
/// than that are prepared again when they come back.
const CACHED_STATEMENTS: usize = 128;

/// One statement of a transaction, converted.
struct Statement {
    sql: String,
    values: Vec<Value>,
}

/// Why a transaction failed, kept until the GIL is held again to raise it.
enum Failure {
    Sqlite(rusqlite::Error),
    Bindings {
        sql: String,
        uses: usize,
        supplied: usize,
    },
}

#[pyclass(name = "Transactions", module = "acd._core")]
pub struct PyTransactions {
    /// None once closed. Only the journal's writer thread uses it; the lock makes the object
    /// shareable as pyo3 requires and is never contended.
    conn: Mutex<Option<Connection>>,
}

#[pymethods]
impl PyTransactions {
    /// Opens the existing database at `path` for writing and runs `setup` (PRAGMAs) on it.
    #[new]
    #[pyo3(signature = (path, setup = Vec::new()))]
    fn new(py: Python<'_>, path: String, setup: Vec<String>) -> PyResult<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| raise(py, e))?;
        for sql in &setup {
            // A PRAGMA that sets a value may answer with it: read and drop any rows.
            let mut stmt = conn.prepare(sql).map_err(|e| raise(py, e))?;
            let mut rows = stmt.raw_query();
            while rows.next().map_err(|e| raise(py, e))?.is_some() {}
        }
        conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
        Ok(PyTransactions {
            conn: Mutex::new(Some(conn)),
        })
    }

    /// Runs `statements`, each `(sql, values)` with `?` placeholders, in one transaction
    /// (BEGIN IMMEDIATE ... COMMIT): all or nothing, committed when it returns.
    fn run(&self, py: Python<'_>, statements: Vec<(String, Bound<'_, PyTuple>)>) -> PyResult<()> {
        let mut converted = Vec::with_capacity(statements.len());
        for (sql, params) in statements {
            let mut values = Vec::with_capacity(params.len());
            for (i, p) in params.iter().enumerate() {
                values.push(value_of(py, &p, i)?);
            }
            converted.push(Statement { sql, values });
        }
        let mut guard = self.conn.lock().expect("one writer thread");
        let conn = guard
            .as_mut()
            .ok_or_else(|| programming_error(py, "Cannot operate on a closed database.".into()))?;
        py.detach(|| transaction(conn, &converted))
            .map_err(|f| match f {
                Failure::Sqlite(e) => raise(py, e),
                Failure::Bindings {
                    sql,
                    uses,
                    supplied,
                } => programming_error(
                    py,
                    format!(
                        "Incorrect number of bindings supplied. The current statement uses \
                         {uses}, and there are {supplied} supplied. ({sql})"
                    ),
                ),
            })
    }

    /// Closes the connection (later `run` calls raise).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let conn = self.conn.lock().expect("one writer thread").take();
        if let Some(conn) = conn {
            conn.close().map_err(|(_, e)| raise(py, e))?;
        }
        Ok(())
    }
}

fn transaction(conn: &mut Connection, statements: &[Statement]) -> Result<(), Failure> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(Failure::Sqlite)?;
    let outcome = statements
        .iter()
        .try_for_each(|s| execute(conn, s))
        .and_then(|()| conn.execute_batch("COMMIT").map_err(Failure::Sqlite));
    if outcome.is_err() && !conn.is_autocommit() {
        // A failed statement or COMMIT (busy, I/O error) can leave the transaction open.
        let _ = conn.execute_batch("ROLLBACK");
    }
    outcome
}

fn execute(conn: &Connection, s: &Statement) -> Result<(), Failure> {
    if holds_more_than_one(&s.sql) {
        // SQLite would prepare the first statement and leave the rest: refused, as Python's
        // sqlite3 refuses it (the rest would silently not run).
        return Err(Failure::Sqlite(rusqlite::Error::MultipleStatement));
    }
    let mut stmt = conn.prepare_cached(&s.sql).map_err(Failure::Sqlite)?;
    let uses = stmt.parameter_count();
    if uses != s.values.len() {
        return Err(Failure::Bindings {
            sql: s.sql.clone(),
            uses,
            supplied: s.values.len(),
        });
    }
    for (i, v) in s.values.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, v).map_err(Failure::Sqlite)?;
    }
    stmt.raw_execute().map_err(Failure::Sqlite)?;
    Ok(())
}

/// Whether `sql` has something after a `;` outside quotes (the journal's statements are the
/// service's own texts: no comments to look into).
fn holds_more_than_one(sql: &str) -> bool {
    let mut quote = None;
    let mut ended = false;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if ended && !c.is_whitespace() && c != ';' => return true,
            None if c == ';' => ended = true,
            None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
            None => {}
        }
    }
    false
}

/// A Python value as SQLite would store it from Python's sqlite3 (no adapters).
fn value_of(py: Python<'_>, v: &Bound<'_, PyAny>, i: usize) -> PyResult<Value> {
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::Text(s.to_str()?.to_owned()));
    }
    if v.is_instance_of::<PyInt>() {
        return v.extract::<i64>().map(Value::Integer).map_err(|_| {
            PyOverflowError::new_err("Python int too large to convert to SQLite INTEGER")
        });
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(Value::Real(f.value()));
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Value::Blob(b.as_bytes().to_vec()));
    }
    if let Ok(b) = v.cast::<PyByteArray>() {
        return Ok(Value::Blob(b.to_vec()));
    }
    if v.is_instance_of::<PyMemoryView>() {
        let bytes = v.call_method0("tobytes")?;
        return Ok(Value::Blob(bytes.cast::<PyBytes>()?.as_bytes().to_vec()));
    }
    let type_name = v.get_type().name()?;
    Err(programming_error(
        py,
        format!(
            "Error binding parameter {}: type '{type_name}' is not supported",
            i + 1
        ),
    ))
}

static SQLITE3: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn sqlite3_error(py: Python<'_>, name: &str, message: String) -> PyErr {
    let class = SQLITE3
        .get_or_try_init(py, || py.import("sqlite3").map(Bound::unbind))
        .and_then(|m| m.bind(py).getattr(name));
    match class {
        Ok(class) => PyErr::from_type(class.cast_into().expect("an exception class"), message),
        Err(e) => e,
    }
}

fn programming_error(py: Python<'_>, message: String) -> PyErr {
    sqlite3_error(py, "ProgrammingError", message)
}

/// The sqlite3 exception Python's module raises for the same SQLite failure.
fn raise(py: Python<'_>, e: rusqlite::Error) -> PyErr {
    match &e {
        rusqlite::Error::SqliteFailure(f, message) => {
            let text = message.clone().unwrap_or_else(|| f.to_string());
            let class = match f.code {
                ErrorCode::ConstraintViolation => "IntegrityError",
                ErrorCode::TooBig => "DataError",
                ErrorCode::ApiMisuse => "InterfaceError",
                _ => "OperationalError",
            };
            sqlite3_error(py, class, text)
        }
        rusqlite::Error::MultipleStatement => {
            programming_error(py, "You can only execute one statement at a time.".into())
        }
        rusqlite::Error::ExecuteReturnedResults => programming_error(
            py,
            "a journal statement returned rows (only DML that returns none is run)".into(),
        ),
        rusqlite::Error::Utf8Error(_) | rusqlite::Error::NulError(_) => {
            PyTypeError::new_err(e.to_string())
        }
        _ => sqlite3_error(py, "OperationalError", e.to_string()),
    }
}
