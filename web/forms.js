// How the pages report problems with a form and show work in progress, as the GOV.UK Design System
// does: an error summary at the top naming every problem, each a link to its field, and the same
// words beside the field; a busy button stays focusable (aria-disabled), it never drops the focus.

/**
 * Show `problems` ([{ input, error, message }], `error` the field's message element) beside their
 * fields and in `summary` (its `ul` gets one link per problem), then move focus to the summary so a
 * screen reader reads it. An empty list clears every field given in `fields` and hides the summary.
 */
export function reportProblems(summary, problems, fields = []) {
  for (const { input, error } of fields) setFieldError(input, error, '');
  for (const { input, error, message } of problems) setFieldError(input, error, message);
  const list = summary.querySelector('ul');
  list.replaceChildren(
    ...problems.map(({ input, message }) => {
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.href = `#${input.id}`;
      link.textContent = message;
      // the link moves focus to the field itself (a fragment alone only scrolls in some browsers)
      link.addEventListener('click', (event) => {
        event.preventDefault();
        input.focus();
      });
      item.append(link);
      return item;
    }),
  );
  summary.hidden = problems.length === 0;
  if (problems.length) {
    summary.scrollIntoView({ block: 'nearest' });
    summary.focus();
  }
}

/** The message beside one field; an empty message hides it and clears aria-invalid. */
export function setFieldError(input, error, message) {
  error.textContent = message;
  error.hidden = !message;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

/** Mark a button busy (or not): aria-disabled keeps it in the tab order and keeps the focus on it. */
export function setBusy(button, busy) {
  if (busy) {
    button.setAttribute('aria-disabled', 'true');
    button.dataset.busy = 'true';
  } else {
    button.removeAttribute('aria-disabled');
    delete button.dataset.busy;
  }
}

/** Whether a button is marked unavailable (busy, or aria-disabled for another reason): its action must not run. */
export const isUnavailable = (button) => button?.getAttribute('aria-disabled') === 'true';
