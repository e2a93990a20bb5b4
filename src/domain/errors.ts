/**
 * Every error the API can return, declared once with a stable code, HTTP status and title
 * (rendered as RFC 9457 problem+json by src/http/middleware/errors.ts). Domain code throws these.
 */
export type FieldError = { field: string; message: string }

export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly title: string,
    readonly detail: string = title,
    readonly errors: FieldError[] = [],
  ) {
    super(detail)
    this.name = 'AppError'
  }
}

type ErrorFactory = (detail?: string, errors?: FieldError[]) => AppError

function appError(code: string, status: number, title: string): ErrorFactory & { code: string } {
  const make = (detail?: string, errors?: FieldError[]) => new AppError(code, status, title, detail ?? title, errors)
  return Object.assign(make, { code })
}

export const errors = {
  malformedJson: appError('malformed_json', 400, 'Malformed JSON body'),
  badRequest: appError('bad_request', 400, 'Bad request'),
  unauthorized: appError('unauthorized', 401, 'Missing or invalid credentials'),
  forbidden: appError('insufficient_scope', 403, 'The credential lacks the scope this route needs'),
  forbiddenOrigin: appError('cross_origin_request', 403, 'Cross-origin request refused'),
  csrfTokenInvalid: appError('csrf_token_invalid', 403, 'The form is out of date or did not come from this site'),
  scopeNotHeld: appError('scope_not_held', 403, 'A credential cannot be given a scope its creator does not hold'),
  notFound: appError('not_found', 404, 'Not found'),
  namespaceNotFound: appError('namespace_not_found', 404, 'Namespace not found'),
  channelNotFound: appError('channel_not_found', 404, 'Channel not found'),
  terminalNotFound: appError('terminal_not_found', 404, 'Terminal not found'),
  messageNotFound: appError('message_not_found', 404, 'Message not found'),
  applicationNotFound: appError('application_not_found', 404, 'Application not found'),
  apiKeyNotFound: appError('api_key_not_found', 404, 'API key not found'),
  clientNotFound: appError('client_not_found', 404, 'OAuth client not found'),
  webhookNotFound: appError('webhook_not_found', 404, 'Webhook not found'),
  webhookDisabled: appError('webhook_disabled', 409, 'The webhook is disabled'),
  deliveryNotFound: appError('delivery_not_found', 404, 'Webhook delivery not found'),
  suppressionNotFound: appError('suppression_not_found', 404, 'Recipient is not suppressed'),
  conflict: appError('conflict', 409, 'Conflict'),
  idempotencyInFlight: appError('idempotency_key_in_flight', 409, 'A request with this Idempotency-Key is still in flight'),
  messageNotCancellable: appError('message_not_cancellable', 409, 'Only a scheduled message can be cancelled'),
  payloadTooLarge: appError('payload_too_large', 413, 'Request body too large'),
  unsupportedMediaType: appError('unsupported_media_type', 415, 'Content-Type must be application/json'),
  validation: appError('validation_failed', 422, 'The request is not valid'),
  idempotencyMismatch: appError(
    'idempotency_key_reused',
    422,
    'This Idempotency-Key was used with a different request body',
  ),
  // Limits: request rate (token bucket) and message quotas; both answer with Retry-After.
  rateLimited: appError('rate_limited', 429, 'Too many requests'),
  quotaExceeded: appError('quota_exceeded', 429, 'Message quota exceeded'),
  internal: appError('internal_error', 500, 'Internal server error'),
  notReady: appError('not_ready', 503, 'Not ready'),
  databaseBusy: appError('database_busy', 503, 'The database is busy; try again shortly'),
  // People: sessions, members, invitations, the instance's own mail.
  invalidCredentials: appError('invalid_credentials', 401, 'Invalid email or password'),
  tooManyAttempts: appError('too_many_attempts', 429, 'Too many attempts; try again later'),
  invalidToken: appError('invalid_token', 400, 'The link is invalid, expired or already used'),
  userRequired: appError('user_required', 403, 'This route is for a signed-in user, not an application'),
  instanceAdminRequired: appError('instance_admin_required', 403, 'Only an instance admin can do this'),
  ownerRequired: appError('owner_required', 403, 'Only an owner of the namespace can do this'),
  lastOwner: appError('last_owner', 409, 'A namespace keeps at least one owner'),
  alreadyMember: appError('already_member', 409, 'The user is already a member of the namespace'),
  userNotFound: appError('user_not_found', 404, 'User not found'),
  memberNotFound: appError('member_not_found', 404, 'Member not found'),
  invitationNotFound: appError('invitation_not_found', 404, 'Invitation not found'),
  mailNotConfigured: appError('mail_not_configured', 503, 'The instance cannot send mail ([mail] smtp_url is not set)'),
  mailFailed: appError('mail_failed', 502, 'The mail server refused or did not answer'),
  // Signup, provisioning and deprovisioning.
  signupDisabled: appError('signup_disabled', 403, 'Self-service signup is not enabled on this instance'),
  emailDomainNotAllowed: appError('email_domain_not_allowed', 422, 'This e-mail domain cannot sign up'),
  namespaceTaken: appError('namespace_taken', 409, 'The namespace name is taken'),
  provisioningNotFound: appError('provisioning_not_found', 404, 'No provisioning job for this namespace'),
}

/** A 422 naming one field. */
export function invalidField(field: string, message: string): AppError {
  return errors.validation(`${field}: ${message}`, [{ field, message }])
}

/** An error that tells the client when to try again: answered with `Retry-After` (seconds). */
export class RetryLaterError extends AppError {
  constructor(
    base: AppError,
    readonly retryAfterSeconds: number,
  ) {
    super(base.code, base.status, base.title, base.detail, base.errors)
  }
}
