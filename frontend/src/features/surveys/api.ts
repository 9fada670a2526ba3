import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../lib/api/client";

export function useSurveys() {
  return useQuery({ queryKey: ["surveys"], queryFn: () => unwrap(api.GET("/api/v1/surveys/")) });
}

export function useCreateSurvey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (title: string) => unwrap(api.POST("/api/v1/surveys/", { body: { title } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["surveys"] }),
  });
}
