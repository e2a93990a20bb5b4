/** Assertions on RFC 9457 problem responses, shared by the API tests. */
import { expect } from 'bun:test'

export type FieldError = { field: string; message: string }
export type Problem = { type: string; code: string; title: string; status: number; detail: string; errors?: FieldError[] }

/** Checks the shape every error shares (status, problem+json, type/code/title/detail, field list) and returns the body. */
export async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toStartWith('application/problem+json')
  const body = (await res.json()) as Problem
  expect(body).toMatchObject({ type: `/problems/${code}`, code, status })
  expect(body.title).toBeString()
  expect(body.detail).toBeString()
  for (const error of body.errors ?? []) expect(error).toEqual({ field: expect.any(String), message: expect.any(String) })
  return body
}

/** The bad fields a 422 names, sorted. */
export const fieldsOf = (problem: Problem) => (problem.errors ?? []).map((e) => e.field).sort()
