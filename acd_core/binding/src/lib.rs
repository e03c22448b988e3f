//! acd._core: the thin pyo3 binding of acd-core. Mechanical by design: argument conversion,
//! the error mapping (errors.rs) and the counting allocator; no routing logic lives here.
//! Beside the router it carries one piece of the service's I/O that Python cannot do well:
//! the journal writer's transactions, run without the GIL (transactions.rs).

mod alloc;
mod batch;
mod errors;
mod event;
mod request;
mod router;
mod transactions;

use pyo3::prelude::*;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// Bytes currently allocated by the native module (for memory benchmarks).
#[pyfunction]
fn heap_bytes() -> usize {
    alloc::allocated()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    alloc::configure();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<event::PyEvent>()?;
    m.add_class::<event::PyEvents>()?;
    m.add_class::<router::PyRouter>()?;
    m.add_class::<transactions::PyTransactions>()?;
    m.add_function(wrap_pyfunction!(heap_bytes, m)?)?;
    Ok(())
}
