import { defineErrors } from 'tandem/server';

/**
 * The social app's own error codes, answered and documented like the library's (docs/errors.md).
 * Add an area's codes here; a code is never reused or renamed.
 */
export const socialErrors = defineErrors({
  // --- avatars (identity) ---
  image_unreadable: { status: 422, title: 'The image cannot be read: send an undamaged JPEG, PNG or WebP of the type its Content-Type names' },
  image_too_large: { status: 422, title: 'The image has too many pixels (at most 40 megapixels, 10,000 on a side)' },
});
